"""The `selfhost` command line: parse options, call the library, render. No arithmetic here.

Heavy modules (numpy, pydantic, yaml, the engine) are imported inside commands so that
`selfhost --help` starts fast.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from selfhost._version import __version__
from selfhost.cli import options as o
from selfhost.cli.common import (
    build_workload,
    check_rps,
    cost_assumptions,
    echo_measured_only,
    emit,
    guarded,
    load,
    resolve_all,
    select_configs,
)
from selfhost.cli.usage import SelfhostGroup

if TYPE_CHECKING:
    from selfhost.analysis import Report
    from selfhost.catalog.schema import Catalog


app = typer.Typer(
    cls=SelfhostGroup,  # usage errors name the value given
    rich_markup_mode=None,  # help texts carry units in square brackets, which Rich markup would eat
    name="selfhost",
    help="When does running an open-weight LLM on your own GPUs beat paying an API?\n\n"
    "Start with: selfhost crossover --rps 5",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"selfhost {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: bool = typer.Option(
        False, "--version", "-V", help="Show the version and exit.", callback=version_callback, is_eager=True
    ),
) -> None:
    """When does running an open-weight LLM on your own GPUs beat paying an API?"""


# --------------------------------------------------------------------------- shared plumbing


# --------------------------------------------------------------------------- commands


@app.command()
def crossover(
    rps: float = typer.Option(..., "--rps", "-r", help="Sustained request rate to compare at. [requests/s]"),
    model: o.ModelOpt = None,
    gpu: o.GpuOpt = None,
    quant: o.QuantOpt = None,
    gpus: o.GpusOpt = None,
    engine: o.EngineOpt = "auto",
    measured_only: o.MeasuredOnlyOpt = False,
    pricing: o.PricingOpt = None,
    provider: o.ProviderOpt = None,
    api: o.ApiOpt = None,
    all_apis: bool = typer.Option(
        False, "--all-apis", help="Compare with every comparable API, not the cheapest of each kind."
    ),
    input_tokens: o.InputTokensOpt = o.DEFAULT_INPUT_TOKENS,
    output_tokens: o.OutputTokensOpt = o.DEFAULT_OUTPUT_TOKENS,
    context: o.ContextOpt = None,
    max_tpot_ms: o.MaxTpotOpt = o.DEFAULT_MAX_TPOT_MS,
    max_ttft_ms: o.MaxTtftOpt = o.DEFAULT_MAX_TTFT_MS,
    kv_dtype: o.KvDtypeOpt = "auto",
    ops_usd_per_month: o.OpsOpt = o.DEFAULT_OPS_USD_PER_MONTH,
    setup_usd: o.SetupOpt = 0.0,
    target_utilization: o.UtilOpt = o.DEFAULT_TARGET_UTILIZATION,
    min_replicas: o.MinReplicasOpt = 1,
    hours_per_month: o.HoursOpt = o.DEFAULT_HOURS_PER_MONTH,
    cached_input_fraction: o.CachedOpt = 0.0,
    uncertainty: o.UncertaintyOpt = 0,
    seed: o.SeedOpt = 0,
    stale_days: o.StaleDaysOpt = o.DEFAULT_STALE_DAYS,
    baseline: o.BaselineOpt = None,
    chart: o.ChartOpt = False,
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
) -> None:
    """Self-host or API? Cheapest deployment per model vs comparable APIs, with the crossover rate.

    For each model, finds the cheapest deployment (GPU, count, quantization, provider) that
    serves RPS within the latency targets, compares its monthly cost with the cheapest API
    hosting the same model and the cheapest proprietary API of the same quality tier, and
    solves exactly for the request rate above which self-hosting stays cheaper.

    Examples:

      selfhost crossover --rps 5

      selfhost crossover --rps 20 -m llama-3.3-70b -g h100 --api openai-gpt-4.1 --format json

      selfhost crossover --rps 5 -m llama-3.3-70b --uncertainty 100000

      selfhost crossover --rps 5 --baseline last-review.json --chart

    With --uncertainty N, N Monte Carlo samples add P10/P50/P90 of the crossover, both monthly
    costs and the saving, and the probability that self-hosting is cheaper at RPS (seed --seed).
    Prices older than --stale-days are flagged.

    With --baseline (an old catalog file or directory, or a saved --format json result), shows
    per comparison how the crossover and both monthly costs moved, and which catalog changes
    caused it. With --chart, draws monthly cost against request rate under the table.
    """

    def run() -> None:
        from selfhost.analysis import crossover_report
        from selfhost.cli.report_cmd import check_chart, draw_chart, emit_changes
        from selfhost.render import Column, sig3, text, usd, usd_mtok
        from selfhost.staleness import flag_stale

        check_rps(rps)
        check_chart(chart, fmt, baseline, uncertainty)
        cat = load(catalog)
        workload = build_workload(input_tokens, output_tokens, context, max_tpot_ms, max_ttft_ms, kv_dtype)
        apis = resolve_all(cat.apis, api, "API", "apis") if api else None
        ca = cost_assumptions(
            ops_usd_per_month,
            setup_usd,
            target_utilization,
            min_replicas,
            hours_per_month,
            cached_input_fraction,
            pricing,
            provider,
        )
        configs = select_configs(cat, model, gpu, quant, gpus, engine, priced=ca, measured_only=measured_only)
        if baseline is not None:
            from selfhost.baseline import compare, load_baseline

            def run_on(old: Catalog) -> Report:
                old_apis = resolve_all(old.apis, api, "API", "apis") if api else None
                old_configs = select_configs(  # "measured" as today's catalog knows it
                    old, model, gpu, quant, gpus, engine, priced=ca, measured_only=measured_only, evidence=cat
                )
                return crossover_report(old, old_configs, workload, ca, rps, old_apis, all_apis=all_apis)

            report = flag_stale(
                crossover_report(cat, configs, workload, ca, rps, apis, all_apis=all_apis), cat, stale_days
            )
            echo_measured_only(report, measured_only)
            emit_changes(compare(report, cat, load_baseline(baseline, run_on)), fmt)
            if chart:
                draw_chart(cat, configs, workload, ca, rps, apis, all_apis, report)
            return
        if uncertainty:
            from selfhost.uncertainty import UncertaintySpec, crossover_with_uncertainty

            spec = UncertaintySpec(samples=uncertainty, seed=seed)
            report = crossover_with_uncertainty(
                cat, configs, workload, ca, rps, apis, spec, all_apis=all_apis
            )
        else:
            report = crossover_report(cat, configs, workload, ca, rps, apis, all_apis=all_apis)
        flag_stale(report, cat, stale_days)
        echo_measured_only(report, measured_only)
        columns = [
            Column("model", "Model", text, "left"),
            Column("deployment", "Self-hosted on", text, "left"),
            Column("self_hosted_usd_per_month", "Self $/mo", usd),
            Column("api", "API", text, "left"),
            Column("api_usd_per_month", "API $/mo", usd),
            Column("self_hosted_usd_per_mtok", "Self $/1M", usd_mtok),
            Column("api_usd_per_mtok", "API $/1M", usd_mtok),
            Column("cheaper", "Cheaper", text, "left"),
            Column("crossover_rps", "Crossover req/s", sig3),
        ]
        if uncertainty:
            columns.append(Column("uncertainty_band", "P10–P90 · P(self)", text))
        if fmt is o.OutputFormat.table:
            from selfhost.render import crossover_band

            for r in report.results:
                label = f"{r['replicas']}x{r['gpus_per_replica']} {r['gpu']} {r['quant']} ({r['provider']})"
                if r["gpus_billed"] != r["replicas"] * r["gpus_per_replica"]:
                    label += f", {r['gpus_billed']:g} GPUs billed"  # whole instances or machines
                r["deployment"] = label
                if uncertainty:
                    r["uncertainty_band"] = crossover_band(r)
        else:  # table-only labels, not record keys: keep them out of an empty CSV's header
            columns = [c for c in columns if c.key not in ("deployment", "uncertainty_band")]
        title = (
            f"Self-host vs API at {rps:g} req/s ({input_tokens} in + {output_tokens} out tokens, "
            f"ops ${ops_usd_per_month:,.0f}/mo)"
        )
        emit(report, fmt, columns, title)
        if chart:
            draw_chart(cat, configs, workload, ca, rps, apis, all_apis, report)

    guarded(run)


@app.command()
def fit(
    model: str = typer.Argument(
        ..., help="Model id, e.g. llama-3.3-70b (see: selfhost catalog list models)."
    ),
    gpu: o.GpuOpt = None,
    gpus: o.GpusOpt = None,
    quant: o.QuantOpt = None,
    engine: o.EngineOpt = "auto",
    context: int = typer.Option(
        o.DEFAULT_FIT_CONTEXT, "--context", "-c", min=1, help="Sequence length that must fit. [tokens]"
    ),
    kv_dtype: o.KvDtypeOpt = "auto",
    all_counts: bool = typer.Option(
        False, "--all-counts", help="Show every GPU count, not just the smallest that fits."
    ),
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
    limit: o.LimitOpt = 0,
) -> None:
    """Does MODEL fit? Weights, KV cache per token, KV capacity and concurrent sequences.

    Without --gpus, shows for each GPU and quantization the smallest tensor-parallel group
    that holds the weights plus one sequence of --context tokens.

    Examples:

      selfhost fit llama-3.3-70b --gpu h100 --quant awq-int4 --context 32768

      selfhost fit deepseek-v3 --gpu h200 --gpus 8 --quant fp8 --format json
    """

    def run() -> None:
        from selfhost.analysis import fit as fit_report
        from selfhost.analysis import smallest_fitting
        from selfhost.render import Column, num0, num1, text, yes_no

        cat = load(catalog)
        workload = build_workload(1, 1, context, o.DEFAULT_MAX_TPOT_MS, o.DEFAULT_MAX_TTFT_MS, kv_dtype)
        configs = select_configs(cat, [model], gpu, quant, gpus, engine)
        report = fit_report(configs, workload)
        if not gpus and not all_counts:
            report.results = smallest_fitting(report.results)
        columns = [
            Column("gpu", "GPU", text, "left"),
            Column("gpus_per_replica", "GPUs", num0),
            Column("quant", "Quant", text, "left"),
            Column("engine", "Engine", text, "left"),
            Column("fits", "Fits", yes_no, "left"),
            Column("weights_gb", "Weights GB", num1),
            Column("usable_memory_gb", "Usable GB", num1),
            Column("kv_bytes_per_token", "KV bytes/token", num0),
            Column("kv_capacity_tokens", "KV capacity tokens", num0),
            Column("max_concurrent_sequences", f"Seqs at {context:,}", num0),
            Column("reason", "Why", text, "left"),
        ]
        emit(
            report,
            fmt,
            columns,
            f"Does {report.results[0]['model'] if report.results else model} fit? (context {context:,} tokens)",
            limit,
        )

    guarded(run)


@app.command()
def estimate(
    model: str = typer.Option(..., "--model", "-m", help="Model id."),
    gpu: str = typer.Option(..., "--gpu", "-g", help="GPU id."),
    gpus: o.GpusOpt = None,
    quant: o.QuantOpt = None,
    engine: o.EngineOpt = "auto",
    concurrency: str = typer.Option(
        "1",
        "--concurrency",
        "-b",
        help="Concurrent sequences, or 'max' (largest batch memory and the engine allow).",
    ),
    input_tokens: o.InputTokensOpt = o.DEFAULT_INPUT_TOKENS,
    output_tokens: o.OutputTokensOpt = o.DEFAULT_OUTPUT_TOKENS,
    max_tpot_ms: o.MaxTpotOpt = o.DEFAULT_MAX_TPOT_MS,
    max_ttft_ms: o.MaxTtftOpt = o.DEFAULT_MAX_TTFT_MS,
    kv_dtype: o.KvDtypeOpt = "auto",
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
) -> None:
    """Throughput and latency of MODEL on GPU: tokens/s, TTFT, time per output token, requests/s.

    These are roofline estimates (docs/method.md). Without --quant, the model's native
    precision; without --gpus, the smallest group that fits one request.

    Examples:

      selfhost estimate -m llama-3.3-70b -g h100 --quant awq-int4 --concurrency 32

      selfhost estimate -m qwen2.5-32b -g l40s -q awq-int4 --concurrency max --format json
    """

    def run() -> None:
        from selfhost.analysis import estimate as estimate_report
        from selfhost.analysis import fit as fit_report
        from selfhost.analysis import smallest_fitting
        from selfhost.errors import InputError
        from selfhost.render import Column, ms, num0, num1, num2, text

        if concurrency == "max":
            batch = None
        else:
            try:
                batch = int(concurrency)
            except ValueError:
                batch = 0
            if batch < 1:
                raise InputError(f"--concurrency '{concurrency}' must be a whole number >= 1 or 'max'")
        cat = load(catalog)
        workload = build_workload(input_tokens, output_tokens, None, max_tpot_ms, max_ttft_ms, kv_dtype)
        model_entry = resolve_all(cat.models, [model], "model", "models")[0]
        quants = quant or [model_entry.native_dtype]
        configs = select_configs(cat, [model], [gpu], quants, gpus, engine)
        if not gpus:
            fitted = smallest_fitting(fit_report(configs, workload).results)
            keep = {(r["quant"], r["gpus_per_replica"]) for r in fitted}
            configs = [c for c in configs if (c.quant.id, c.n_gpus) in keep]
        report = estimate_report(configs, workload, batch)
        columns = [
            Column("quant", "Quant", text, "left"),
            Column("gpus_per_replica", "GPUs", num0),
            Column("engine", "Engine", text, "left"),
            Column("concurrency", "Concurrency", num0),
            Column("output_tokens_per_s", "Output tok/s", num0),
            Column("output_tokens_per_s_per_sequence", "Tok/s per seq", num1),
            Column("ttft_s", "TTFT ms", ms),
            Column("tpot_s", "TPOT ms", ms),
            Column("requests_per_s", "Req/s", num2),
            Column("capacity_rps_per_replica", "Req/s within targets", num2),
        ]
        emit(
            report,
            fmt,
            columns,
            f"Estimated throughput: {model_entry.id} on {gpu} ({input_tokens} in + {output_tokens} out)",
        )

    guarded(run)


@app.command()
def cost(
    rps: float = typer.Option(..., "--rps", "-r", help="Sustained request rate. [requests/s]"),
    model: o.ModelOpt = None,
    gpu: o.GpuOpt = None,
    quant: o.QuantOpt = None,
    gpus: o.GpusOpt = None,
    engine: o.EngineOpt = "auto",
    measured_only: o.MeasuredOnlyOpt = False,
    pricing: o.PricingOpt = None,
    provider: o.ProviderOpt = None,
    input_tokens: o.InputTokensOpt = o.DEFAULT_INPUT_TOKENS,
    output_tokens: o.OutputTokensOpt = o.DEFAULT_OUTPUT_TOKENS,
    context: o.ContextOpt = None,
    max_tpot_ms: o.MaxTpotOpt = o.DEFAULT_MAX_TPOT_MS,
    max_ttft_ms: o.MaxTtftOpt = o.DEFAULT_MAX_TTFT_MS,
    kv_dtype: o.KvDtypeOpt = "auto",
    ops_usd_per_month: o.OpsOpt = o.DEFAULT_OPS_USD_PER_MONTH,
    target_utilization: o.UtilOpt = o.DEFAULT_TARGET_UTILIZATION,
    min_replicas: o.MinReplicasOpt = 1,
    hours_per_month: o.HoursOpt = o.DEFAULT_HOURS_PER_MONTH,
    uncertainty: o.UncertaintyOpt = 0,
    seed: o.SeedOpt = 0,
    stale_days: o.StaleDaysOpt = o.DEFAULT_STALE_DAYS,
    catalog: o.CatalogOpt = None,
    fmt: o.FormatOpt = o.OutputFormat.table,
    limit: o.LimitOpt = 20,
) -> None:
    """Monthly and per-token cost of every deployment that serves RPS, cheapest first.

    Examples:

      selfhost cost --rps 5 -m llama-3.3-70b

      selfhost cost --rps 50 -m qwen2.5-32b --pricing all --limit 0 --format csv > costs.csv

      selfhost cost --rps 5 -m llama-3.3-70b --uncertainty 100000 --limit 5

    With --uncertainty N, the rows shown get P10/P50/P90 of the monthly cost from N Monte Carlo
    samples of GPU price and engine efficiency (seed --seed). Prices older than --stale-days
    are flagged.
    """

    def run() -> None:
        from selfhost.analysis import costs
        from selfhost.render import Column, num0, num1, text, usd, usd_cents, usd_mtok
        from selfhost.staleness import flag_stale

        check_rps(rps)
        cat = load(catalog)
        workload = build_workload(input_tokens, output_tokens, context, max_tpot_ms, max_ttft_ms, kv_dtype)
        ca = cost_assumptions(
            ops_usd_per_month, 0.0, target_utilization, min_replicas, hours_per_month, 0.0, pricing, provider
        )
        configs = select_configs(cat, model, gpu, quant, gpus, engine, priced=ca, measured_only=measured_only)
        if uncertainty:
            from selfhost.uncertainty import UncertaintySpec, costs_with_uncertainty

            spec = UncertaintySpec(samples=uncertainty, seed=seed)
            report = costs_with_uncertainty(cat, configs, workload, ca, rps, spec, rows=limit)
        else:
            report = costs(cat, configs, workload, ca, rps, rows=limit)
        flag_stale(report, cat, stale_days, records=report.results[:limit] if limit else None)
        echo_measured_only(report, measured_only)
        columns = [
            Column("model", "Model", text, "left"),
            Column("quant", "Quant", text, "left"),
            Column("gpu", "GPU", text, "left"),
            Column("gpus_per_replica", "GPUs/replica", num0),
            Column("provider", "Provider", text, "left"),
            Column("usd_per_gpu_hour", "$/GPU-h", usd_cents),
            Column("capacity_rps_per_replica", "Req/s per replica (est.)", num1),
            Column("replicas", "Replicas", num0),
            Column("gpus_billed", "GPUs billed", num0),
            Column("self_hosted_usd_per_month", "$/month", usd),
            Column("self_hosted_usd_per_mtok", "$/1M tok", usd_mtok),
        ]
        if uncertainty:
            from selfhost.render import span

            columns.append(Column("usd_per_month_band", "P10 → P90 $/month", span(usd)))
            if fmt is o.OutputFormat.table:
                for r in report.results:
                    if "self_hosted_usd_per_month_p10" in r:
                        r["usd_per_month_band"] = (
                            r["self_hosted_usd_per_month_p10"],
                            r["self_hosted_usd_per_month_p90"],
                        )
            else:  # a table-only label
                columns.pop()
        emit(
            report,
            fmt,
            columns,
            f"Self-hosted cost at {rps:g} req/s ({input_tokens} in + {output_tokens} out)",
            limit,
        )

    guarded(run)


# registers sub-commands on `app`
from selfhost.cli import catalog_cmd, kv_cmd, plan_cmd, sensitivity_cmd, stale_cmd, sweep_cmd, validate_cmd  # noqa: E402

stale_cmd.register(catalog_cmd.catalog_app)
app.add_typer(catalog_cmd.catalog_app, name="catalog")
sweep_cmd.register(app)
validate_cmd.register(app)
sensitivity_cmd.register(app)
plan_cmd.register(app)
kv_cmd.register(app)

from selfhost.cli import report_cmd  # noqa: E402

report_cmd.register(app)


def _command_name(info: Any) -> str:
    """The name a user types for a registered Typer command (Typer's own rule)."""
    return str(info.name or info.callback.__name__.lower().replace("_", "-"))


def command_names(typer_app: typer.Typer) -> list[str]:
    """The names of the app's commands and command groups, in registration order."""
    return [_command_name(info) for info in typer_app.registered_commands] + [
        str(group.name) for group in typer_app.registered_groups
    ]


def only_command(typer_app: typer.Typer, name: str) -> typer.Typer | None:
    """A copy of ``typer_app`` holding just the command or group called ``name``, else None.

    Typer builds a Click command, with a parser for every option, for every registered command
    before it dispatches (about 15 ms for ours); the invoked one is all a run needs.
    """
    import copy

    if name not in command_names(typer_app):
        return None
    single = copy.copy(typer_app)
    single.registered_commands = [i for i in typer_app.registered_commands if _command_name(i) == name]
    single.registered_groups = [g for g in typer_app.registered_groups if g.name == name]
    return single


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app to run ``selfhost ARGS``: just the command named first, or the whole app for
    anything else (``--help``, ``--version``, a typo that needs "did you mean")."""
    return (only_command(app, args[0]) if args else None) or app


def main() -> None:
    """Console-script entry point."""
    args = sys.argv[1:]
    app_for(args)(args=args, prog_name="selfhost")
