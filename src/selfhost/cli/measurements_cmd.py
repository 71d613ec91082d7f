"""`selfhost measurements ...`: turn benchmark result files into measurement entries."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from selfhost.cli import options as o

measurements_app = typer.Typer(
    rich_markup_mode=None,  # units in square brackets must survive in --help
    help="Your own benchmark runs as measurements: import vLLM bench, GuideLLM and AIPerf result files.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class FormatHint(str, Enum):
    vllm = "vllm"
    guidellm = "guidellm"
    aiperf = "aiperf"


OneModelOpt = Annotated[
    str,
    typer.Option("--model", "-m", help="Catalog model id the benchmark ran (the file's own name is kept)."),
]
OneGpuOpt = Annotated[str, typer.Option("--gpu", "-g", help="Catalog GPU id the benchmark ran on.")]
OneQuantOpt = Annotated[
    str | None,
    typer.Option("--quant", "-q", help="Quantization id. Default: the model's native dtype (bf16/fp8)."),
]
GpusPerReplicaOpt = Annotated[
    int, typer.Option("--gpus", "-n", min=1, help="GPUs per replica (tensor parallel). [count]")
]
ReplicasOpt = Annotated[
    int, typer.Option("--replicas", min=1, help="Replicas behind the endpoint that served the run. [count]")
]


@measurements_app.command("import")
def import_results(
    result_file: Path = typer.Argument(
        ...,
        metavar="FILE",
        help="A result file: vllm bench serve / benchmark_serving.py JSON (or JSON lines), GuideLLM "
        "report JSON/YAML, AIPerf / genai-perf profile_export JSON or CSV.",
    ),
    model: OneModelOpt = ...,  # type: ignore[assignment]
    gpu: OneGpuOpt = ...,  # type: ignore[assignment]
    gpus: GpusPerReplicaOpt = 1,
    quant: OneQuantOpt = None,
    engine: o.EngineOpt = "auto",
    replicas: ReplicasOpt = 1,
    max_num_seqs: int | None = typer.Option(
        None, "--max-num-seqs", min=1, help="The engine's batch cap as run (vLLM --max-num-seqs). [sequences]"
    ),
    kv_dtype: o.KvDtypeOpt = "auto",
    engine_version: str = typer.Option(
        "",
        "--engine-version",
        help="The engine release that ran the benchmark, e.g. 0.6.3: an older release is predicted as its "
        "generation ran (vLLM's slower schedulers, TensorRT-LLM's KV reads before 0.7.1; the file does "
        "not say which release served it).",
    ),
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        min=1,
        help="Set how the load was driven: requests in flight (an AIPerf CSV needs this or --request-rate).",
    ),
    request_rate: float | None = typer.Option(
        None, "--request-rate", min=0.000001, help="Set how the load was driven: arrival rate. [requests/s]"
    ),
    into: Path | None = typer.Option(
        None,
        "--into",
        help="Add the entries to this measurements YAML file (created if missing; comments kept; an id it "
        "already holds is skipped if identical, refused if not).",
    ),
    id_prefix: str = typer.Option(
        "", "--id-prefix", help="Prefix for the entry ids, to import a file twice."
    ),
    format_hint: FormatHint | None = o.format_hint_option(FormatHint),
    catalog: o.CatalogOpt = None,
) -> None:
    """Read a benchmark result file and print its runs as measurement entries (or add them with --into).

    Each run becomes one throughput entry (output tokens/s over the deployment, the run's mean
    lengths, its concurrency or request rate, the completed requests) and its TTFT and TPOT
    entries (mean, median, p99 as the file gives them). The file does not say what hardware
    served it: --model, --gpu, --gpus (and --quant, --engine, --replicas) do. Check the result
    with `selfhost validate`: predicted vs measured. Formats and their source versions:
    docs/importers.md.

    Examples:

      selfhost measurements import vllm-16.0qps-Llama-3.1-405B-FP8.json -m llama-3.1-405b -q fp8 -g h100-sxm-80gb -n 8 --into mine.yaml

      selfhost measurements import benchmarks.json -m llama-3.1-8b -g l40s-48gb > guidellm.yaml

      selfhost validate mine.yaml
    """
    from selfhost.cli.common import guarded, load, note

    def run() -> None:
        import hashlib

        from selfhost.errors import InputError
        from selfhost.importers import (
            append_measurements,
            measurement_records,
            measurements_yaml,
            read_results,
        )
        from selfhost.importers.measurements import resolve_deployment, summary_line

        if concurrency is not None and request_rate is not None:
            raise InputError("give one of --concurrency and --request-rate, not both")
        cat = load(catalog)
        deployment, notes = resolve_deployment(
            cat,
            model=model,
            gpu=gpu,
            quant=quant,
            engine=engine,
            n_gpus=gpus,
            replicas=replicas,
            max_num_seqs=max_num_seqs,
            kv_dtype=kv_dtype,
            engine_version=engine_version,
        )
        imported = read_results(
            result_file,
            hint=format_hint.value if format_hint else None,
            concurrency=concurrency,
            request_rate=request_rate,
        )
        from selfhost.inputs import MAX_INPUT_BYTES, read_bytes

        digest = hashlib.sha256(read_bytes(result_file, "result file", max_bytes=MAX_INPUT_BYTES)).hexdigest()
        records = measurement_records(imported, deployment, id_prefix=id_prefix, sha256=digest)
        for line in notes:
            note(line)
        sys.stderr.write(summary_line(imported, records) + "\n")
        if into is None:
            sys.stdout.write(measurements_yaml(records))
            return
        result = append_measurements(into, records)
        if result.skipped:
            note(
                f"{len(result.skipped)} entr{'y' if len(result.skipped) == 1 else 'ies'} already in {into}, skipped"
            )
        if result.how == "unchanged":
            sys.stderr.write(f"{into} already holds these entries; nothing written\n")
            return
        done = {
            "created": f"created {into} with {len(result.added)} entries",
            "appended": f"added {len(result.added)} entries at the end of {into}",
            "rewritten": f"added {len(result.added)} entries to {into} (re-dumped as YAML: the file had no comments)",
        }[result.how]
        catalog_args = "".join(f" --catalog {c}" for c in catalog or [])
        sys.stderr.write(f"{done}; check them: selfhost validate {into}{catalog_args}\n")

    guarded(run)


def register(app: typer.Typer) -> None:
    """Add the `measurements` group to ``app``."""
    app.add_typer(measurements_app, name="measurements")
