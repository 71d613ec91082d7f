"""`selfhost deploy`: write the serving kit of a sized deployment (serve line, compose, nginx,
Prometheus with alerts, README, client). Parses options, calls `selfhost.deploy`, renders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selfhost.cli import options as o
from selfhost.cli.common import guarded, load, note

if TYPE_CHECKING:
    from selfhost.deploy.kit import KitResult
    from selfhost.deploy.spec import KitSettings, KitSpec
    from selfhost.question import Scenario

KIT_ENGINES = ("vllm", "sglang")  # deploy.engines.KIT_ENGINES, repeated so --help imports nothing heavy
DEFAULT_DEPLOY_CONTEXT = o.DEFAULT_FIT_CONTEXT  # the article's "max model length 32768"


def _summary(
    spec: KitSpec, settings: KitSettings, result: KitResult, serve_line: str
) -> list[tuple[str, str]]:
    """The kit in brief, as (label, value) lines; the serve line is printed whole after them."""
    from selfhost.render import replica_words

    one = replica_words(spec.gpus_per_replica, spec.gpu, getattr(spec, "layout", None))
    lines = [
        (
            "Kit",
            f"{spec.model_name} ({spec.quant}) on {spec.replicas} replica{'' if spec.replicas == 1 else 's'} "
            f"× {one}, {spec.engine} {spec.engine_version}, in {result.directory}",
        ),
        ("wrote", ", ".join(result.written)),
    ]
    if result.secrets_created:
        lines.append(("secrets created", f"{', '.join(result.secrets_created)} (mode 0600, not shown)"))
    if result.secrets_kept:
        lines.append(("secrets kept as they were", ", ".join(result.secrets_kept)))
    lines += [
        (
            "capacity (estimate)",
            f"{spec.capacity_rps_per_replica:.3g} req/s per replica at {spec.input_tokens}+{spec.output_tokens} "
            f"tokens, {spec.max_num_seqs} concurrent sequences (limit: {spec.capacity_limit}); planned "
            f"{spec.planned_rps_per_replica:.3g} req/s per replica at {spec.target_utilization:.0%} utilization",
        ),
        (
            (f"replicas for {spec.planned_rps:g} req/s", f"{spec.replicas}")
            if spec.planned_rps > 0
            else (
                "replicas",
                f"{spec.replicas} (no --rps given: pass it to size the replicas for your traffic)",
            )
        ),
        ("endpoint", f"{settings.base_url} (start: cd {result.directory} && docker compose up -d)"),
    ]
    return lines


def print_summary(lines: list[tuple[str, str]], serve_line: str, wide: bool) -> None:
    """The summary, ``label: value`` a line, wrapped at spaces to the terminal with a hanging
    indent; then the serve line whole on its own line (a command: copy it in one piece)."""
    import textwrap

    from selfhost.cli.common import stdout_console, whole

    width = None if whole(wide) else stdout_console().width
    for i, (label, value) in enumerate(lines):
        text = f"{label}: {value}" if i == 0 else f"  {label}: {value}"
        if width is None:
            sys.stdout.write(text + "\n")
            continue
        sys.stdout.write(
            textwrap.fill(
                text, width, subsequent_indent="      ", break_long_words=False, break_on_hyphens=False
            )
            + "\n"
        )
    sys.stdout.write(f"  serve (one line):\n{serve_line}\n")


def _document(
    spec: KitSpec, settings: KitSettings, result: KitResult, argv: list[str], line: str
) -> dict[str, Any]:
    return {
        "directory": str(result.directory),
        "files_written": list(result.written),
        "secrets_created": list(result.secrets_created),
        "secrets_kept": list(result.secrets_kept),
        "serve_command": argv,
        "serve_line": line,
        "base_url": settings.base_url,
        "kit": spec.record(),
    }


#: Options of this command that the shared option group defines for it (kits: one model on one GPU).
OptionalModelOpt, OptionalGpuOpt = (
    Annotated[
        str | None, typer.Option(f"--{what}", f"-{what[0]}", help=f"{label} id (not with --from-plan).")
    ]
    for what, label in (("model", "Model"), ("gpu", "GPU"))
)
KitEngineOpt = Annotated[str, typer.Option("--engine", help="Serving engine of the kit: vllm or sglang.")]
SHARED = (
    "model", "gpu", "quant", "gpus", "engine", "input_tokens", "output_tokens", "context", "max_tpot_ms",
    "max_ttft_ms", "kv_dtype", "target_utilization", "min_replicas", "catalog",
)  # fmt: skip


@o.question_options(
    SHARED,
    model=(OptionalModelOpt, None),
    gpu=(OptionalGpuOpt, None),
    engine=(KitEngineOpt, "vllm"),
)
def deploy(
    scenario: Scenario,
    output: Path = typer.Option(..., "--output", "-o", help="Directory to write the kit into (created)."),
    rps: float = typer.Option(
        0.0, "--rps", "-r", min=0, help="Planned request rate, for the replica count. [requests/s]"
    ),
    weights: list[str] | None = typer.Option(
        None,
        "--weights",
        help="Checkpoint to serve (Hugging Face repo or path); needed for formats quantized ahead "
        "of time (AWQ, GPTQ, INT8). With --from-plan: DEPLOYMENT=REPO (repeatable).",
    ),
    served_model_name: str | None = typer.Option(
        None, "--served-model-name", help="Model name clients send. Default: the model id."
    ),
    server_name: str = typer.Option(
        "localhost", "--server-name", help="Host name clients use (TLS certificate, base URL)."
    ),
    https_port: int = typer.Option(443, "--https-port", min=1, max=65535, help="nginx HTTPS port. [port]"),
    engine_port: int = typer.Option(
        8000, "--engine-port", min=1, max=65535, help="Engine port on 127.0.0.1. [port]"
    ),
    self_signed: bool = typer.Option(
        False, "--self-signed", help="Make a self-signed certificate for --server-name in DIR/tls/."
    ),
    tls_cert: Path | None = typer.Option(
        None, "--tls-cert", help="Your TLS certificate (PEM), used in place."
    ),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="Your TLS private key (PEM), used in place."),
    from_plan: Path | None = typer.Option(
        None,
        "--from-plan",
        help="A saved `selfhost plan --format json`: one kit per self-hosted deployment, in DIR/<deployment>/.",
    ),
    force: bool = typer.Option(
        False, "--force", help="Replace generated files already in DIR (secrets are kept)."
    ),
    new_secrets: bool = typer.Option(
        False,
        "--new-secrets",
        help="Also replace .env, api_keys.map and the self-signed key: new API key.",
    ),
    fmt: o.FormatOpt = o.OutputFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """Write the serving kit of a deployment: serve line, compose, nginx, Prometheus, alerts.

    Sizes the replica as the other commands do (KV capacity, the largest batch within the
    latency targets, its request rate) and writes into DIR: serve.sh and the engine command
    with flags derived from that sizing; compose.yaml (engine with its GPUs, nginx,
    Prometheus, node_exporter); nginx.conf (TLS, API keys from api_keys.map, streaming);
    prometheus.yml and alerts.yml (KV cache >= 85 %, queue growing, p95 TTFT/TPOT above the
    targets, request rate above the planned capacity); README.md; client.py (the OpenAI SDK
    with base_url switched). The API key goes to .env and api_keys.map (mode 0600); it is
    never printed. Nothing in DIR is replaced without --force; secrets only with --new-secrets.

    Examples:

      selfhost deploy -m llama-3.3-70b -g a100-80gb --gpus 2 -q awq-int4 --weights casperhansen/llama-3.3-70b-instruct-awq --rps 5 --self-signed -o kit/

      selfhost deploy -m deepseek-v3 -g h200 --gpus 8 -q fp8 --server-name llm.corp.example --tls-cert /etc/ssl/llm.pem --tls-key /etc/ssl/llm.key -o kit/

      selfhost deploy --from-plan plan.json --self-signed -o kits/ --format json
    """

    def run() -> None:
        import dataclasses

        from selfhost.deploy.kit import write_kit
        from selfhost.deploy.serve import serve_argv, serve_line
        from selfhost.deploy.spec import KitSettings, fewest_gpus_kit
        from selfhost.errors import InputError
        from selfhost.render import write_json
        from selfhost.selection import select_configs

        if fmt in (o.OutputFormat.csv, o.OutputFormat.jsonl):
            raise InputError(f"--format {fmt.value}: deploy writes files and speaks table or json")
        if self_signed == (tls_cert is not None or tls_key is not None):
            raise InputError(
                "choose the TLS certificate: --self-signed, or both --tls-cert and --tls-key"
                if not self_signed
                else "--self-signed and --tls-cert/--tls-key exclude each other"
            )
        if (tls_cert is None) != (tls_key is None):
            raise InputError("--tls-cert and --tls-key go together")
        for p in (tls_cert, tls_key):
            if p is not None and not p.is_file():
                raise InputError(f"TLS file '{p}' does not exist")
        settings = KitSettings(
            server_name=server_name,
            https_port=https_port,
            engine_port=engine_port,
            tls_cert=tls_cert.resolve() if tls_cert else None,
            tls_key=tls_key.resolve() if tls_key else None,
        )
        cat = load(scenario.catalog_overlays)
        engine = scenario.selection.engine
        if engine not in KIT_ENGINES:
            raise InputError(f"--engine '{engine}': kits are written for {', '.join(KIT_ENGINES)}")
        if from_plan is not None:
            from selfhost.deploy.from_plan import planned_kits, read_plan

            if scenario.selection.models or scenario.selection.gpus:
                raise InputError("--from-plan takes the deployments from the plan; drop --model/--gpu")
            pairs = {}
            for w in weights or []:
                name, sep, repo = w.partition("=")
                if not sep:
                    raise InputError(f"--weights '{w}' with --from-plan must be DEPLOYMENT=REPO")
                pairs[name] = repo
            kits = [
                (k.spec, k.settings, output / k.deployment)
                for k in planned_kits(read_plan(from_plan), cat, defaults=settings, weights=pairs)
            ]
            if not kits:
                note(f"{from_plan}: the plan self-hosts nothing; no kit written")
        else:
            if not scenario.selection.models or not scenario.selection.gpus:
                raise InputError("give --model and --gpu (or --from-plan PLAN.json)")
            if weights and len(weights) > 1:
                raise InputError("--weights takes one checkpoint for one kit")
            configs = select_configs(cat, scenario, native_quant=True)
            model_entry = configs[0].model
            ctx = scenario.context_tokens or min(DEFAULT_DEPLOY_CONTEXT, model_entry.max_context_tokens)
            workload = dataclasses.replace(scenario.workload, context_tokens=ctx)
            sized = fewest_gpus_kit(
                configs,
                workload,
                scenario.priced,
                rps=rps,
                served_model_name=served_model_name,
                weights=weights[0] if weights else None,
            )
            kits = [(sized, settings, output)]
        docs = []
        for spec, kit_settings, directory in kits:
            result = write_kit(
                directory,
                spec,
                kit_settings,
                self_signed=self_signed,
                force=force,
                new_secrets=new_secrets,
            )
            argv = serve_argv(spec, kit_settings)
            line = serve_line(spec, kit_settings)
            if fmt is o.OutputFormat.json:
                docs.append(_document(spec, kit_settings, result, argv, line))
            else:
                print_summary(_summary(spec, kit_settings, result, line), line, wide)
            if not spec.gpu_measured:
                note(
                    f"{spec.gpu}: no published measurement behind the {spec.engine} profile; capacity is extrapolated"
                )
            if not spec.layout_measured:
                note(
                    f"{spec.layout}: no published measurement in this layout behind the {spec.engine} profile; "
                    "capacity is extrapolated"
                )
        if fmt is o.OutputFormat.json:
            write_json({"kits": docs}, sys.stdout)

    guarded(run)


def register(app: typer.Typer) -> None:
    app.command()(deploy)
