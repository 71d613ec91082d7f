"""`selfhost sensitivity`: the tornado, how each input moves the crossover and the saving."""

from __future__ import annotations

import typer

from selfhost.cli import options as o

DEFAULT_RANGE = 0.3  # +-30 %; the library's sensitivity.DEFAULT_RANGE, repeated to keep --help free of NumPy


def register(app: typer.Typer) -> None:
    @app.command()
    def sensitivity(
        rps: float = typer.Option(
            ..., "--rps", "-r", help="Sustained request rate of the base case. [requests/s]"
        ),
        spread: float = typer.Option(
            DEFAULT_RANGE,
            "--range",
            min=0.0,
            max=0.99,
            help="Relative move of each input, down and up (0.3 = -30 % and +30 %). [unitless]",
        ),
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
        target_utilization: o.UtilOpt = o.DEFAULT_TARGET_UTILIZATION,
        min_replicas: o.MinReplicasOpt = 1,
        hours_per_month: o.HoursOpt = o.DEFAULT_HOURS_PER_MONTH,
        cached_input_fraction: o.CachedOpt = 0.0,
        stale_days: o.StaleDaysOpt = o.DEFAULT_STALE_DAYS,
        catalog: o.CatalogOpt = None,
        fmt: o.FormatOpt = o.OutputFormat.table,
    ) -> None:
        """Which input matters most? Each input -/+ --range, one at a time: crossover and saving.

        For each comparison `selfhost crossover` makes (same options), moves the GPU price, the
        API prices (input and output together), the target utilization, the engine efficiency
        (MBU and MFU together), the operations cost, the input and output tokens per request
        and the request rate down and up by --range, one at a time, and shows where the
        crossover rate and the monthly saving (API minus self-hosted) go. Rows are sorted by
        the saving's swing, largest first; the bar is the tornado (░ input -range, █ +range,
        left of the axis a smaller saving). The deployment stays the base case's cheapest,
        so each bar isolates its input.

        Examples:

          selfhost sensitivity --rps 5 -m llama-3.3-70b

          selfhost sensitivity --rps 20 -m qwen2.5-32b --range 0.5 --format csv > tornado.csv
        """
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

        def run() -> None:
            from selfhost.render import Column, never_or, sig3, span, text, tornado_bars, usd
            from selfhost.sensitivity import INPUTS, sensitivity_report
            from selfhost.staleness import flag_stale

            check_rps(rps)
            cat = load(catalog)
            workload = build_workload(
                input_tokens, output_tokens, context, max_tpot_ms, max_ttft_ms, kv_dtype
            )
            apis = resolve_all(cat.apis, api, "API", "apis") if api else None
            ca = cost_assumptions(
                ops_usd_per_month,
                0.0,
                target_utilization,
                min_replicas,
                hours_per_month,
                cached_input_fraction,
                pricing,
                provider,
            )
            configs = select_configs(
                cat, model, gpu, quant, gpus, engine, priced=ca, measured_only=measured_only
            )
            report = sensitivity_report(
                cat, configs, workload, ca, rps, apis, all_apis=all_apis, spread=spread
            )
            flag_stale(report, cat, stale_days)
            echo_measured_only(report, measured_only)

            def pair(r: dict[str, object]) -> tuple[object, object]:
                return (r["model"], r["api"])

            columns = [
                Column("comparison", "Comparison (base case)", text, "left"),
                Column("input_label", "Input", text, "left"),
                Column("values", f"-{spread:.0%} → +{spread:.0%}", span(sig3)),
                Column("crossover", "Crossover req/s", span(never_or(sig3))),
                Column("saving", "Saving $/mo", span(usd)),
                Column("swing_usd_per_month", "Swing $/mo", usd),
                Column("tornado", "Saving: ░ -range █ +range", text, "left"),
            ]
            if fmt is o.OutputFormat.table:
                labels = {inp.key: inp.short for inp in INPUTS}
                bars = tornado_bars(
                    report.results,
                    "saving_usd_per_month_base",
                    "saving_usd_per_month_low",
                    "saving_usd_per_month_high",
                    pair,
                )
                previous, line = None, 0
                for r, bar in zip(report.results, bars, strict=True):
                    line = line + 1 if pair(r) == previous else 0
                    previous = pair(r)
                    # the first column stacks the comparison's description down its rows
                    stacked = [
                        r["model"],
                        f"vs {r['api']}",
                        f"on {r['gpus_per_replica']}x {r['gpu']} {r['quant']}",
                        f"({r['provider']})",
                        f"base crossover {never_or(sig3)(r['crossover_rps_base'])} req/s",
                        f"base saving {usd(r['saving_usd_per_month_base'])}/mo",
                    ]
                    r["comparison"] = stacked[line] if line < len(stacked) else ""
                    r["input_label"] = labels[r["input"]]
                    r["values"] = (r["low_value"], r["high_value"])
                    r["crossover"] = (r["crossover_rps_low"], r["crossover_rps_high"])
                    r["saving"] = (r["saving_usd_per_month_low"], r["saving_usd_per_month_high"])
                    r["tornado"] = bar
            else:  # table-only labels, not record keys
                columns = [
                    Column(key, key)
                    for key in (
                        "model",
                        "api",
                        "input",
                        "low_value",
                        "high_value",
                        "crossover_rps_low",
                        "crossover_rps_high",
                        "saving_usd_per_month_low",
                        "saving_usd_per_month_high",
                        "swing_usd_per_month",
                    )
                ]
            title = (
                f"Sensitivity at {rps:g} req/s ({input_tokens} in + {output_tokens} out tokens, "
                f"ops ${ops_usd_per_month:,.0f}/mo): each input -/+{spread:.0%}, deployment fixed"
            )
            emit(report, fmt, columns, title, section_key=pair)

        guarded(run)
