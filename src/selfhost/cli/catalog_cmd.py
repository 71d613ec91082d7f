"""`selfhost catalog ...`: list, show and validate catalog entries."""

from __future__ import annotations

import sys
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from selfhost.cli import options as o

catalog_app = typer.Typer(
    rich_markup_mode=None,  # units in square brackets must survive in --help
    help="Browse and check the catalog: GPUs, prices, models, quantizations, engines, APIs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: `catalog list KIND` names -> catalog section and the columns shown in the table.
KINDS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "gpus": (
        "gpus",
        [
            ("id", "Id"),
            ("memory_gb", "Memory GB"),
            ("memory_bandwidth_gb_s", "BW GB/s"),
            ("bf16_tflops", "BF16 TFLOPS"),
            ("fp8_tflops", "FP8 TFLOPS"),
            ("power_w", "W"),
            ("interconnect", "Interconnect"),
            ("as_of", "As of"),
        ],
    ),
    "offers": (
        "rental_offers",
        [
            ("id", "Id"),
            ("provider", "Provider"),
            ("gpu", "GPU"),
            ("usd_per_gpu_hour", "$/GPU-h"),
            ("instance_gpus", "GPUs/instance"),
            ("pricing", "Pricing"),
            ("as_of", "As of"),
            ("confirmed", "Confirmed"),
        ],
    ),
    "owned": (
        "purchase_options",
        [
            ("id", "Id"),
            ("gpu", "GPU"),
            ("usd_per_gpu", "$ per GPU"),
            ("amortization_months", "Months"),
            ("watts_per_gpu", "W"),
            ("usd_per_kwh", "$/kWh"),
            ("as_of", "As of"),
            ("confirmed", "Confirmed"),
        ],
    ),
    "models": (
        "models",
        [
            ("id", "Id"),
            ("params_total_b", "Params B"),
            ("params_active_b", "Active B"),
            ("max_context_tokens", "Context"),
            ("license", "Licence"),
            ("license_allows_production", "Production OK"),
            ("quality_tier", "Tier"),
            ("tags", "Tags"),
        ],
    ),
    "quants": (
        "quantizations",
        [
            ("id", "Id"),
            ("linear_bits_per_weight", "Bits/weight"),
            ("embedding_bits_per_weight", "Embedding bits"),
            ("compute_dtype", "Compute"),
            ("platforms", "Platforms"),
            ("engines", "Engines"),
        ],
    ),
    "engines": (
        "engines",
        [
            ("id", "Id"),
            ("gpu_memory_utilization", "Mem util"),
            ("memory_bandwidth_utilization", "MBU"),
            ("compute_utilization", "MFU"),
            ("step_overhead_s", "Step overhead s"),
            ("max_batch_sequences", "Max batch"),
            ("confirmed", "Calibrated"),
        ],
    ),
    "apis": (
        "apis",
        [
            ("id", "Id"),
            ("provider", "Provider"),
            ("usd_per_mtok_input", "$/1M in"),
            ("usd_per_mtok_output", "$/1M out"),
            ("usd_per_mtok_cached_input", "$/1M cached"),
            ("quality_tier", "Tier"),
            ("equivalent_model", "Same model as"),
            ("as_of", "As of"),
        ],
    ),
}


def _plain(value: Any) -> Any:
    """JSON/CSV-friendly value: dates as ISO strings, tuples as lists, models as dicts."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return {k: _plain(v) for k, v in value.model_dump().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


#: The order in which a narrowing terminal keeps a kind's columns, where it is not the table's order.
KEPT_FIRST = {
    "offers": ["id", "usd_per_gpu_hour", "gpu", "provider", "pricing", "instance_gpus", "as_of", "confirmed"],
    "apis": ["id", "usd_per_mtok_input", "usd_per_mtok_output", "provider", "quality_tier", "equivalent_model",
             "usd_per_mtok_cached_input", "as_of"],
    "models": ["id", "params_total_b", "params_active_b", "max_context_tokens", "license_allows_production",
               "quality_tier", "license", "tags"],
}  # fmt: skip


def _numeric(records: list[dict[str, Any]], key: str) -> bool:
    """Whether a column holds numbers (ints or floats, not bools; None allowed)."""
    values = [r.get(key) for r in records if r.get(key) is not None]
    return bool(values) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _cell(header: str) -> Any:
    """The cell formatter of a `catalog list` column: thousands separated, dollars with cents."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, list):
            return ", ".join(map(str, v))
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            if "$" in header:
                return f"${v:,.2f}" if abs(v) < 1000 else f"${v:,.0f}"
            return f"{int(v):,}" if v.is_integer() else f"{v:,.4g}"
        return str(v)

    return cell


@catalog_app.command("list")
def list_entries(
    kind: str = typer.Argument(..., metavar="KIND", help=f"One of: {', '.join(KINDS)}."),
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """List catalog entries of one kind: numbers right-aligned; a narrow terminal keeps the
    first columns (--wide shows all).

    Examples:

      selfhost catalog list gpus

      selfhost catalog list apis --format csv
    """
    from selfhost.cli.common import emit, fail, guarded, load

    if kind not in KINDS:
        fail(f"unknown kind '{kind}'; use one of: {', '.join(KINDS)}")

    def run() -> None:
        from selfhost.analysis import Report
        from selfhost.render import Column

        section, cols = KINDS[kind]
        cat = load(catalog)
        records = [{k: _plain(v) for k, v in e.model_dump().items()} for e in getattr(cat, section)]

        order = KEPT_FIRST.get(kind, [key for key, _ in cols])
        columns = [
            Column(
                key,
                header,
                _cell(header),
                "right" if _numeric(records, key) else "left",
                priority=order.index(key),
            )
            for key, header in cols
        ]
        emit(
            Report(results=records, assumptions={"kind": kind}),
            fmt,
            columns,
            f"Catalog: {kind} ({len(records)})",
            wide=wide,
        )

    guarded(run)


@catalog_app.command("show")
def show(
    entry_id: str = typer.Argument(
        ..., metavar="ID", help="Any catalog id or alias, e.g. h100 or llama-3.3-70b."
    ),
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
) -> None:
    """Show every field of one entry, with its source and date.

    Examples:

      selfhost catalog show h100

      selfhost catalog show deepseek-v3 --format json
    """
    from selfhost.cli.common import guarded, load, stdout_console

    def run() -> None:
        from selfhost.catalog.lookup import normalize, suggest
        from selfhost.errors import UnknownIdError
        from selfhost.render import write_json

        cat = load(catalog)
        wanted = normalize(entry_id)
        everything = [
            (section, e)
            for section, _ in ((s, None) for s in type(cat).model_fields)
            for e in getattr(cat, section)
        ]
        for section, entry in everything:
            if wanted == normalize(entry.id) or wanted in {normalize(a) for a in entry.aliases}:
                data = {"section": section, **{k: _plain(v) for k, v in entry.model_dump().items()}}
                if fmt is o.OutputFormat.json:
                    # the same document shape as every other command; the entry carries its own source and as_of
                    write_json({"results": [data], "assumptions": {"query": entry_id}}, sys.stdout)
                elif fmt is o.OutputFormat.jsonl:
                    from selfhost.render import write_jsonl

                    write_jsonl([data], sys.stdout)
                elif fmt is o.OutputFormat.csv:
                    from selfhost.render import write_csv

                    write_csv([data], sys.stdout)
                else:
                    from rich.table import Table

                    table = Table(title=f"{entry.id} ({section})", show_header=False)
                    table.add_column("field", style="bold")
                    table.add_column("value", overflow="fold")
                    for key, value in data.items():
                        table.add_row(key, str(value))
                    stdout_console().print(table)
                return
        close = suggest([e for _, e in everything], entry_id)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownIdError(
            f"unknown catalog id '{entry_id}'{hint} See every id with: selfhost catalog list KIND "
            f"(KIND: {', '.join(KINDS)})"
        )

    guarded(run)


@catalog_app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(..., help="Catalog YAML files or directories to check."),
) -> None:
    """Check catalog files against the schema and the built-in catalog; list every error.

    Exit code 0 when valid, 1 when any error is found.

    Example:

      selfhost catalog validate my-prices.yaml
    """
    from selfhost.cli.common import guarded

    def run() -> None:
        from selfhost.catalog.loader import validate_paths

        errors = validate_paths(paths)
        if errors:
            for line in errors:
                typer.echo(line, err=True)
            raise typer.Exit(1)
        typer.echo(f"ok: {', '.join(str(p) for p in paths)} valid")

    guarded(run)


class ImportFormat(str, Enum):
    yaml = "yaml"
    json = "json"


@catalog_app.command("import-config")
def import_config(
    config_path: Path = typer.Argument(
        ..., metavar="PATH", help="A Hugging Face config.json (Llama, Mistral, Qwen2/3, Mixtral, DeepSeek)."
    ),
    model_id: str = typer.Option(
        ..., "--id", help="Catalog id of the new model: lower-case letters, digits, '.', '_', '-'."
    ),
    name: str | None = typer.Option(
        None, "--name", help="Display name. Default: from --hf-repo, else the id."
    ),
    hf_repo: str | None = typer.Option(
        None, "--hf-repo", help="Hugging Face repository, e.g. org/model. Default: config _name_or_path."
    ),
    license_name: str | None = typer.Option(
        None, "--license", help="Licence of the weights (not in config.json). Default: unknown."
    ),
    production: bool | None = typer.Option(
        None,
        "--production/--no-production",
        help="Whether the licence allows production use. Default: --no-production.",
    ),
    quality_tier: str | None = typer.Option(
        None,
        "--quality-tier",
        help="frontier, strong, mid or small (editorial; picks comparable APIs). Default: mid.",
    ),
    into: Path | None = typer.Option(
        None,
        "--into",
        help="Add the entry to this overlay YAML file (created if missing; an existing id is never overwritten).",
    ),
    fmt: ImportFormat = typer.Option(
        ImportFormat.yaml, "--format", "-f", help="Output when printing: a YAML or JSON catalog document."
    ),
) -> None:
    """Build a catalog model entry from a Hugging Face config.json and print it (or add it with --into).

    Total and active parameters are counted from the architecture (rounded to 4 significant
    digits); context is max_position_embeddings; native dtype is fp8 when the config's
    quantization_config says so, else bf16. Licence, production use and quality tier are not in
    config.json: pass them, or the entry keeps marked defaults (confirmed: false). A summary
    (parameters, KV cache per token, context) goes to stderr.

    Examples:

      selfhost catalog import-config ./config.json --id my-llama-8b > my-models.yaml

      selfhost catalog import-config ./config.json --id my-llama-8b --license llama3.1 --production --into my-models.yaml

      selfhost crossover --catalog my-models.yaml -m my-llama-8b --rps 1
    """
    from selfhost.cli.common import guarded, note

    def run() -> None:
        import datetime as dt

        from selfhost.catalog.architecture import count_params_for, kv_bytes_per_token_for
        from selfhost.catalog.hf_config import model_from_hf_config, quantization_method_from_hf_config
        from selfhost.catalog.loader import load_catalog
        from selfhost.catalog.overlay import append_model, model_record, models_yaml
        from selfhost.catalog.schema import QualityTier
        from selfhost.errors import CatalogError, InputError

        tiers = typing.get_args(QualityTier)
        if quality_tier is not None and quality_tier not in tiers:
            raise InputError(f"unknown --quality-tier '{quality_tier}'; use one of: {', '.join(tiers)}")
        from selfhost.inputs import decode, json_problem, load_json, read_bytes

        try:
            text = decode(read_bytes(config_path, "config file"), "config file", config_path)
        except InputError as exc:
            raise CatalogError(str(exc)) from None
        try:
            config = load_json(text)
        except ValueError as exc:  # not JSON, nested too deep, a number too long
            raise CatalogError(f"'{config_path}' is not valid JSON ({json_problem(exc)})") from None
        if not isinstance(config, dict):
            raise CatalogError(
                f"'{config_path}' is not a config.json: expected a JSON object at the top level"
            )

        today = dt.date.today()
        try:
            model = model_from_hf_config(
                config,
                model_id=model_id,
                source=f"config.json at {config_path} (imported {today.isoformat()})",
                as_of=today,
                name=name,
                hf_repo=hf_repo,
                license=license_name,
                license_allows_production=production,
                quality_tier=typing.cast("QualityTier | None", quality_tier),  # checked against tiers above
            )
        except CatalogError as exc:  # name the file: the message names the key
            message = str(exc)
            raise CatalogError(
                message if str(config_path) in message else f"{config_path}: {message}"
            ) from None

        how = append_model(into, model) if into is not None else None  # fails before any output

        arch = model.architecture
        counts = count_params_for(arch)
        kv = kv_bytes_per_token_for(arch, 2.0)  # 2 bytes per BF16 element
        kind = "MLA latent" if arch.mla else f"{arch.num_key_value_heads} KV heads x {arch.head_dim}"
        sys.stderr.write(
            f"{model.id}: {arch.hf_architecture}, {counts.total / 1e9:.4g}B params total, "
            f"{counts.active / 1e9:.4g}B active; KV cache {kv:,.0f} bytes/token in BF16 "
            f"({kv / 1024:.4g} KiB; {arch.num_hidden_layers} layers, {kind}); "
            f"context {model.max_context_tokens:,} tokens; native dtype {model.native_dtype}\n"
        )
        method = quantization_method_from_hf_config(config)
        if method not in (None, "fp8", "mxfp4"):
            note(
                f"the config is quantized ({method}); the entry describes the unquantized model, "
                "choose the weight format with --quant"
            )
        if not model.hf_repo:
            note("hf_repo is empty; pass --hf-repo ORG/NAME to record it")
        if model.id in {m.id for m in load_catalog(include_builtin=True, env={}).models}:
            note(f"'{model.id}' is a built-in model id; an overlay entry with it replaces the built-in one")

        if how is not None:
            done = {
                "created": f"created {into} with model '{model.id}'",
                "appended": f"added model '{model.id}' at the end of the models section of {into}",
                "rewritten": f"added model '{model.id}' to {into} (re-dumped as YAML: the file had no comments)",
            }[how]
            sys.stderr.write(f"{done}; try: selfhost crossover --catalog {into} -m {model.id} --rps 1\n")
            return
        if fmt is ImportFormat.json:
            from selfhost.render import write_json

            write_json({"models": [_plain(model_record(model))]}, sys.stdout)
        else:
            sys.stdout.write(models_yaml([model]))

    guarded(run)


def register(app: typer.Typer) -> None:
    """Add the `catalog` group (with `catalog stale`, from its own module) to ``app``."""
    from selfhost.cli import stale_cmd

    if not any(info.name == "stale" for info in catalog_app.registered_commands):
        stale_cmd.register(catalog_app)
    app.add_typer(catalog_app, name="catalog")
