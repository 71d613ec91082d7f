"""`selfhost kv-alert`: at what concurrency and request rate KV-cache use crosses a threshold."""

from __future__ import annotations

import typer

from selfhost.cli import options as o

DEFAULT_THRESHOLD = 0.85  # kv_alert.DEFAULT_THRESHOLD, repeated to keep --help free of NumPy


def register(app: typer.Typer) -> None:
    @app.command("kv-alert")
    def kv_alert(
        model: list[str] = typer.Option(..., "--model", "-m", help="Model id (repeatable)."),
        gpu: list[str] = typer.Option(..., "--gpu", "-g", help="GPU id (repeatable)."),
        gpus: o.GpusOpt = None,
        quant: o.QuantOpt = None,
        engine: o.EngineOpt = "auto",
        threshold: float = typer.Option(
            DEFAULT_THRESHOLD,
            "--threshold",
            "-t",
            min=0.01,
            max=1.0,
            help="Alert level: share of the KV cache in use. [0-1]",
        ),
        replicas: int = typer.Option(
            1, "--replicas", min=1, help="Replicas sharing the traffic; request rates scale with it. [count]"
        ),
        input_tokens: o.InputTokensOpt = o.DEFAULT_INPUT_TOKENS,
        output_tokens: o.OutputTokensOpt = o.DEFAULT_OUTPUT_TOKENS,
        max_tpot_ms: o.MaxTpotOpt = o.DEFAULT_MAX_TPOT_MS,
        max_ttft_ms: o.MaxTtftOpt = o.DEFAULT_MAX_TTFT_MS,
        kv_dtype: o.KvDtypeOpt = "auto",
        catalog: o.CatalogOpt = None,
        fmt: o.FormatOpt = o.OutputFormat.table,
    ) -> None:
        """When does KV-cache use cross --threshold (default 85%), and is that the first warning?

        For each deployment: the concurrent sequences and the request rate at which the KV
        cache passes the threshold (sequences at their mean length, input + output / 2), next
        to the load at which the latency targets break. 'First limit' says which comes first
        as traffic grows: the KV alert (a useful early warning), the latency target (alert on
        TPOT/queue depth instead), or the engine's batch cap (KV use never gets there).
        Without --quant, the model's native precision; without --gpus, the smallest group
        that fits one request.

        Examples:

          selfhost kv-alert -m llama-3.3-70b -g h100 -q awq-int4 --gpus 1

          selfhost kv-alert -m qwen2.5-32b -g l40s -q awq-int4 --input-tokens 8000 --output-tokens 500

          selfhost kv-alert -m llama-3.3-70b -g a100-80gb -q awq-int4 --gpus 2 --replicas 3 --format json
        """
        from selfhost.cli.common import build_workload, emit, guarded, load, resolve_all, select_configs

        def run() -> None:
            from selfhost.analysis import fit as fit_report
            from selfhost.analysis import smallest_fitting
            from selfhost.kv_alert import kv_alert as kv_alert_report
            from selfhost.render import Column, ms, num0, num2, text

            cat = load(catalog)
            workload = build_workload(input_tokens, output_tokens, None, max_tpot_ms, max_ttft_ms, kv_dtype)
            configs = []
            for entry in resolve_all(cat.models, model, "model", "models"):
                configs += select_configs(cat, [entry.id], gpu, quant or [entry.native_dtype], gpus, engine)
            if not gpus:
                keep = {
                    (r["model"], r["gpu"], r["quant"], r["engine"], r["gpus_per_replica"])
                    for r in smallest_fitting(fit_report(configs, workload).results)
                }
                configs = [
                    c for c in configs if (c.model.id, c.gpu.id, c.quant.id, c.engine.id, c.n_gpus) in keep
                ]
            report = kv_alert_report(configs, workload, threshold, replicas)
            if fmt is o.OutputFormat.table:
                for r in report.results:
                    r["kv_at_capacity_pct"] = (
                        None
                        if r["kv_utilization_at_capacity"] is None
                        else 100 * r["kv_utilization_at_capacity"]
                    )
            columns = [
                Column("model", "Model", text, "left"),
                Column("quant", "Quant", text, "left"),
                Column("gpu", "GPU", text, "left"),
                Column("gpus_per_replica", "GPUs", num0),
                Column("kv_capacity_tokens", "KV capacity tokens", num0),
                Column("alert_concurrency", f"Seqs at {threshold * 100:g}% KV", num0),
                Column("alert_rps", f"Req/s at {threshold * 100:g}% KV", num2),
                Column("alert_tpot_s", "TPOT ms there", ms),
                Column("capacity_concurrency", "Seqs within targets", num0),
                Column("capacity_rps", "Req/s within targets", num2),
                Column("kv_at_capacity_pct", "KV % there", num0),
                Column("first_limit", "First limit", text, "left"),
            ]
            if fmt is not o.OutputFormat.table:  # a table-only label
                columns = [c for c in columns if c.key != "kv_at_capacity_pct"]
            emit(
                report,
                fmt,
                columns,
                f"KV-cache alert at {threshold * 100:g}% ({input_tokens} in + {output_tokens} out, "
                f"{replicas} replica(s))",
            )

        guarded(run)
