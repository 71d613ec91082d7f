"""`selfhost sweep`: the whole grid (deployments x rps x token mixes) for spreadsheets."""

from __future__ import annotations

import math

import typer

from selfhost.cli import options as o


def parse_mix(text: str) -> tuple[int, int]:
    """'1000:300' -> (1000, 300) input and output tokens."""
    from selfhost.errors import InputError

    parts = text.split(":")
    try:
        p, d = (int(x) for x in parts)
    except ValueError:
        raise InputError(f"--mix '{text}' must be INPUT:OUTPUT tokens, e.g. 1000:300") from None
    if p < 1 or d < 1:
        raise InputError(f"--mix '{text}' needs at least 1 input and 1 output token")
    return p, d


def parse_rps_range(text: str) -> list[float]:
    """'0.1:100:10' -> 10 log-spaced rates from 0.1 to 100 req/s."""
    import numpy as np

    from selfhost.errors import InputError

    try:
        start, stop, count = text.split(":")
        lo, hi, n = float(start), float(stop), int(count)
    except ValueError:
        raise InputError(f"--rps-range '{text}' must be START:STOP:COUNT, e.g. 0.1:100:10") from None
    if not (0 < lo < hi) or n < 2:
        raise InputError(f"--rps-range '{text}' needs 0 < START < STOP and COUNT >= 2")
    return [float(x) for x in np.geomspace(lo, hi, n)]


def register(app: typer.Typer) -> None:
    @app.command()
    def sweep(
        rps: list[float] | None = typer.Option(
            None, "--rps", "-r", help="Request rate (repeatable). [requests/s]"
        ),
        rps_range: str | None = typer.Option(None, "--rps-range", help="START:STOP:COUNT log-spaced rates."),
        mix: list[str] | None = typer.Option(
            None, "--mix", help="INPUT:OUTPUT tokens per request (repeatable)."
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
        fmt: o.FormatOpt = o.OutputFormat.csv,
        limit: o.LimitOpt = 0,
    ) -> None:
        """Every deployment and API at every rate and token mix, one row each (CSV by default).

        Rows with option_kind 'self-hosted' are deployments (their monthly cost, replicas,
        GPUs billed); rows with 'api' are API bills for the same traffic. Deployments that
        cannot serve a rate within the latency targets are left out.

        Examples:

          selfhost sweep -m llama-3.3-70b --rps-range 0.1:100:13 --mix 1000:300 --mix 4000:500 > grid.csv

          selfhost sweep -m qwen2.5-32b -g l40s --rps 1 --rps 10 --api openai-gpt-4o-mini --format json
        """
        from selfhost.cli.common import (
            build_workload,
            cost_assumptions,
            echo_measured_only,
            emit,
            guarded,
            load,
            resolve_all,
            select_configs,
        )

        def run() -> None:
            from selfhost.analysis import sweep as sweep_report
            from selfhost.errors import InputError
            from selfhost.render import Column, num0, sig3, text, usd, usd_mtok
            from selfhost.staleness import flag_stale

            rates = list(rps or [])
            if rps_range:
                rates += parse_rps_range(rps_range)
            if not rates:
                raise InputError("give at least one --rps or an --rps-range")
            for r in rates:
                if not 0 <= r < math.inf:
                    raise InputError(
                        f"--rps {r:g} must be a finite, non-negative number of requests per second"
                    )
            mixes = [parse_mix(m) for m in (mix or [f"{o.DEFAULT_INPUT_TOKENS}:{o.DEFAULT_OUTPUT_TOKENS}"])]
            cat = load(catalog)
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
            workloads = [build_workload(p, d, None, max_tpot_ms, max_ttft_ms, kv_dtype) for p, d in mixes]
            report = sweep_report(cat, configs, workloads, ca, sorted(set(rates)), apis)
            flag_stale(report, cat, stale_days)
            echo_measured_only(report, measured_only)
            columns = [
                Column("option_kind", "Kind", text, "left"),
                Column("option", "Option", text, "left"),
                Column("input_tokens", "In", num0),
                Column("output_tokens", "Out", num0),
                Column("rps", "Req/s", sig3),
                Column("gpus_billed", "GPUs", num0),
                Column("usd_per_month", "$/month", usd),
                Column("usd_per_mtok", "$/1M tok", usd_mtok),
            ]
            emit(report, fmt, columns, "Sweep", limit)

        guarded(run)
