"""`prometheus.yml` and `alerts.yml`: scrape the engine and the host, alert on what breaks first.

Rules (names in `ALERTS`), all per scraped instance:

- KV-cache use >= 85 % for 5 minutes, on the engine's current gauge and, for vLLM, the older
  one (``vllm:gpu_cache_usage_perc``, deprecated in 0.9): an exhausted cache preempts requests;
- requests waiting, never zero for 10 minutes and still growing: the batcher is under-provisioned;
- p95 time to first token, and p95 time per output token, above the workload's targets for 10
  minutes (``histogram_quantile`` over the engine's histograms);
- completed requests per second above the rate selfhost planned for one replica (its estimated
  capacity x the target utilization) for 15 minutes: add a replica. The annotation carries the
  numbers of the plan;
- the engine's metrics endpoint down for 2 minutes.

Tested with ``promtool check config``, ``promtool check rules`` and ``promtool test rules`` on
synthetic series (tests/test_deploy_prometheus.py).
"""

from __future__ import annotations

from typing import Any

import yaml

from selfhost.deploy.engines import ENGINE_RELEASES, METRICS, METRICS_PATH
from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.escape import one_line

KV_ALERT_THRESHOLD = 0.85  # the article's alert level
KV_ALERT_FOR = "5m"
QUEUE_WINDOW = "10m"
LATENCY_FOR = "10m"
RATE_FOR = "15m"
RATE_WINDOW = "5m"
ENGINE_JOB = "engine"

ALERTS = (
    "KVCacheNearlyFull",
    "RequestQueueGrowing",
    "TimeToFirstTokenP95AboveTarget",
    "TimePerOutputTokenP95AboveTarget",
    "RequestRateAbovePlannedCapacity",
    "EngineMetricsDown",
)


def value_template(fmt: str) -> str:
    """The alert's current value in an annotation, formatted with Go's printf (``fmt`` like '%.2f')."""
    return f'{{{{ $value | printf "{fmt}" }}}}'


INSTANCE = "{{ $labels.instance }}"


def _union(exprs: list[str]) -> str:
    """Series of the first expression, filled in by the next where absent (older metric names)."""
    return " or ".join(exprs)


def _p95(histograms: tuple[str, ...]) -> str:
    rates = _union([f"rate({h}_bucket[{RATE_WINDOW}])" for h in histograms])
    return f"histogram_quantile(0.95, sum by (instance, le) ({rates}))"


def rules_document(spec: KitSpec) -> dict[str, Any]:
    """alerts.yml as data."""
    m = METRICS[spec.engine]
    ttft_s = spec.max_ttft_ms / 1000.0
    tpot_s = spec.max_tpot_ms / 1000.0
    planned = spec.planned_rps_per_replica
    who = f"{spec.served_model_name} ({spec.gpus_per_replica}x {spec.gpu}, {spec.engine})"
    labels = {"severity": "warning", "deployment": spec.served_model_name}
    rules = [
        {
            "alert": "KVCacheNearlyFull",
            "expr": f"max by (instance) ({_union(list(m.kv_usage))}) >= {KV_ALERT_THRESHOLD:g}",
            "for": KV_ALERT_FOR,
            "labels": dict(labels),
            "annotations": {
                "summary": f"KV cache of {who} at {value_template('%.2f')} (1 = full)",
                "description": (
                    f"KV-cache use on {INSTANCE} has been >= {KV_ALERT_THRESHOLD:.0%} for "
                    f"{KV_ALERT_FOR}. When it is full the engine preempts and recomputes requests. selfhost "
                    f"sized {spec.kv_capacity_tokens:,} KV tokens per replica; add a replica, lower "
                    "--max-num-seqs or use an FP8 KV cache."
                ),
            },
        },
        {
            "alert": "RequestQueueGrowing",
            "expr": (
                f"sum by (instance) (min_over_time({m.waiting}[{QUEUE_WINDOW}])) > 0 "
                f"and sum by (instance) (deriv({m.waiting}[{QUEUE_WINDOW}])) > 0"
            ),
            "for": "5m",
            "labels": dict(labels),
            "annotations": {
                "summary": f"Requests queue up on {who}",
                "description": (
                    f"{INSTANCE} has had requests waiting for {QUEUE_WINDOW} and the queue is "
                    f"still growing: the replica is under-provisioned for the traffic (selfhost planned "
                    f"{planned:.3g} req/s per replica)."
                ),
            },
        },
        {
            "alert": "TimeToFirstTokenP95AboveTarget",
            "expr": f"{_p95((m.ttft_histogram,))} > {ttft_s:g}",
            "for": LATENCY_FOR,
            "labels": dict(labels),
            "annotations": {
                "summary": f"p95 time to first token of {who} above {spec.max_ttft_ms:g} ms",
                "description": (
                    f"p95 TTFT on {INSTANCE} is {value_template('%.3f')} s, above the "
                    f"workload's {spec.max_ttft_ms:g} ms target (selfhost estimated "
                    f"{spec.ttft_ms_at_capacity:.0f} ms at capacity)."
                ),
            },
        },
        {
            "alert": "TimePerOutputTokenP95AboveTarget",
            "expr": f"{_p95(m.tpot_histogram)} > {tpot_s:g}",
            "for": LATENCY_FOR,
            "labels": dict(labels),
            "annotations": {
                "summary": f"p95 time per output token of {who} above {spec.max_tpot_ms:g} ms",
                "description": (
                    f"p95 time per output token on {INSTANCE} is {value_template('%.3f')} s, "
                    f"above the workload's {spec.max_tpot_ms:g} ms target (selfhost estimated "
                    f"{spec.tpot_ms_at_capacity:.0f} ms at {spec.max_num_seqs} concurrent sequences)."
                ),
            },
        },
        {
            "alert": "RequestRateAbovePlannedCapacity",
            "expr": f"sum by (instance) (rate({m.requests_counter}[{RATE_WINDOW}])) > {planned:.6g}",
            "for": RATE_FOR,
            "labels": dict(labels),
            "annotations": {
                "summary": f"{who} serves more than selfhost planned: add a replica",
                "description": (
                    f"{INSTANCE} completes {value_template('%.2f')} req/s. selfhost "
                    f"planned {planned:.3g} req/s per replica: estimated capacity "
                    f"{spec.capacity_rps_per_replica:.3g} req/s ({spec.input_tokens}+{spec.output_tokens} tokens, "
                    f"TPOT <= {spec.max_tpot_ms:g} ms, TTFT <= {spec.max_ttft_ms:g} ms) x target utilization "
                    f"{spec.target_utilization:g}, for {spec.planned_rps:g} req/s on {spec.replicas} replica(s). "
                    "Add a replica, or rerun selfhost with the observed rate."
                ),
            },
        },
        {
            "alert": "EngineMetricsDown",
            "expr": f'up{{job="{ENGINE_JOB}"}} == 0',
            "for": "2m",
            "labels": {**labels, "severity": "critical"},
            "annotations": {
                "summary": f"{who} metrics endpoint down",
                "description": f"Prometheus cannot scrape {INSTANCE}: the engine is down or still loading.",
            },
        },
    ]
    return {"groups": [{"name": f"selfhost-{spec.served_model_name}", "rules": rules}]}


def alerts_yaml(spec: KitSpec) -> str:
    release = ENGINE_RELEASES[spec.engine]
    header = [
        f"# Alert rules for {one_line(spec.served_model_name)} on {spec.engine} {release.version}, written by `selfhost deploy`.",
        "# Metric names (and the file that defines each in the engine's source):",
        *[f"#   {c}" for c in METRICS[spec.engine].citations],
        "# Checked with promtool check rules / promtool test rules in selfhost's tests.",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(rules_document(spec), sort_keys=False, width=1000)


def prometheus_document(spec: KitSpec, settings: KitSettings) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": ["alerts.yml"],
        "scrape_configs": [
            {
                "job_name": ENGINE_JOB,
                "metrics_path": METRICS_PATH,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{settings.engine_port}"],
                        "labels": {"deployment": spec.served_model_name, "serving_engine": spec.engine},
                    }
                ],
            },
            {
                "job_name": "node",
                "static_configs": [{"targets": [f"127.0.0.1:{settings.node_exporter_port}"]}],
            },
            {
                "job_name": "prometheus",
                "static_configs": [{"targets": [f"127.0.0.1:{settings.prometheus_port}"]}],
            },
        ],
    }


def prometheus_yaml(spec: KitSpec, settings: KitSettings) -> str:
    header = [
        f"# Prometheus for {one_line(spec.served_model_name)}: the engine's {METRICS_PATH}, node_exporter, itself.",
        "# Everything is scraped on 127.0.0.1; other replicas can be added as targets of job 'engine'.",
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(prometheus_document(spec, settings), sort_keys=False)
