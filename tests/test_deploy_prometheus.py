"""prometheus.yml and alerts.yml, checked by the tool that runs them: promtool check config,
check rules, and test rules with synthetic series for every alert, both ways."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_cases import deepseek_fp8_8xh200, llama_awq_2xa100, require
from selfhost.deploy.engines import METRICS
from selfhost.deploy.prometheus import (
    ALERTS,
    ENGINE_JOB,
    INSTANCE,
    alerts_yaml,
    prometheus_yaml,
    rules_document,
    value_template,
)
from selfhost.deploy.spec import KitSettings, KitSpec

PROMTOOL_TIMEOUT_S = 60


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [require("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def write_rules(tmp_path: Path, spec: KitSpec) -> Path:
    (tmp_path / "alerts.yml").write_text(alerts_yaml(spec))
    (tmp_path / "prometheus.yml").write_text(prometheus_yaml(spec, KitSettings()))
    return tmp_path


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_promtool_accepts_the_config_and_the_rules(tmp_path: Path, engine: str) -> None:
    d = write_rules(tmp_path, llama_awq_2xa100(engine))
    out = promtool("check", "config", "prometheus.yml", cwd=d).stdout
    assert "1 rule files found" in out
    assert f"{len(ALERTS)} rules found" in promtool("check", "rules", "alerts.yml", cwd=d).stdout


# --------------------------------------------------------------------------- promtool test rules

NOW = "25m"  # late enough for every rule's window plus its `for`


def labels(instance: str) -> str:
    return f'instance="{instance}",job="{ENGINE_JOB}"'


def annotations(spec: KitSpec, alert: str, instance: str, value: str | None) -> dict[str, str]:
    """The rule's own annotation templates, rendered as Prometheus renders them for this series."""
    rule = next(r for r in rules_document(spec)["groups"][0]["rules"] if r["alert"] == alert)
    out = {}
    for key, text in rule["annotations"].items():
        text = text.replace(INSTANCE, instance)
        for fmt in ("%.2f", "%.3f"):
            if value_template(fmt) in text:
                assert value is not None
                text = text.replace(value_template(fmt), fmt % float(value))
        out[key] = text
    return out


def expect(
    spec: KitSpec, alert: str, fired: dict[str, str | None], severity: str = "warning", **extra: str
) -> list[dict[str, Any]]:
    return [
        {
            "exp_labels": {
                "instance": inst,
                "severity": severity,
                "deployment": spec.served_model_name,
                **extra,
            },
            "exp_annotations": annotations(spec, alert, inst, value),
        }
        for inst, value in fired.items()
    ]


def histogram(name: str, instance: str, buckets: dict[str, int]) -> list[dict[str, str]]:
    """Cumulative bucket counters growing by ``buckets[le]`` per minute."""
    return [
        {"series": f'{name}_bucket{{{labels(instance)},le="{le}"}}', "values": f"0+{per_minute}x30"}
        for le, per_minute in buckets.items()
    ]


def unit_tests(spec: KitSpec) -> dict[str, Any]:
    m = METRICS[spec.engine]
    kv_new, *kv_old = m.kv_usage
    tpot_new, *tpot_old = m.tpot_histogram
    planned_per_min = spec.planned_rps_per_replica * 60
    busy, quiet = int(planned_per_min * 1.5) + 1, int(planned_per_min * 0.5)
    series: list[dict[str, str]] = [
        # KV cache: 0.86 for 10 minutes fires after 5; 0.84 never; both names at once: one alert
        {"series": f"{kv_new}{{{labels('kv-hot')}}}", "values": "0.86x30"},
        {"series": f"{kv_new}{{{labels('kv-cool')}}}", "values": "0.84x30"},
        {
            "series": f"{kv_new}{{{labels('kv-late')}}}",
            "values": "0.5x21 0.86x8",
        },  # 0.86 from 22m: pending at 25m
        # queue: growing fires; steady or draining to zero does not
        {"series": f"{m.waiting}{{{labels('queue-growing')}}}", "values": "1+1x30"},
        {"series": f"{m.waiting}{{{labels('queue-steady')}}}", "values": "3x30"},
        {"series": f"{m.waiting}{{{labels('queue-draining')}}}", "values": "0 5 " * 15},
        # request rate: 1.5x the planned per-replica rate fires, 0.5x does not
        {"series": f"{m.requests_counter}{{{labels('rate-busy')}}}", "values": f"0+{busy}x30"},
        {"series": f"{m.requests_counter}{{{labels('rate-quiet')}}}", "values": f"0+{quiet}x30"},
        {"series": f"up{{{labels('down')}}}", "values": "0x30"},
        {"series": f"up{{{labels('kv-hot')}}}", "values": "1x30"},
    ]
    # TTFT: every request in (2.5, 5] s -> p95 = 2.5 + 0.95 x 2.5 = 4.875 s, above 3 s; in (0, 0.5] -> 0.475 s
    series += histogram(m.ttft_histogram, "ttft-slow", {"0.5": 0, "2.5": 0, "5": 10, "+Inf": 10})
    series += histogram(m.ttft_histogram, "ttft-fast", {"0.5": 10, "2.5": 10, "5": 10, "+Inf": 10})
    # TPOT: every request in (0.1, 0.3] s -> p95 = 0.1 + 0.95 x 0.2 = 0.29 s, above 0.1 s; in (0, 0.05] -> 0.0475
    series += histogram(tpot_new, "tpot-slow", {"0.05": 0, "0.1": 0, "0.3": 10, "+Inf": 10})
    series += histogram(tpot_new, "tpot-fast", {"0.05": 10, "0.1": 10, "0.3": 10, "+Inf": 10})
    kv_fired: dict[str, str | None] = {"kv-hot": "0.86"}
    tpot_fired: dict[str, str | None] = {"tpot-slow": "0.29"}
    for old in kv_old:  # an older vLLM exports only the old gauge
        series.append({"series": f"{old}{{{labels('kv-old-hot')}}}", "values": "0.86x30"})
        series.append({"series": f"{old}{{{labels('kv-old-cool')}}}", "values": "0.84x30"})
        series.append(
            {"series": f"{old}{{{labels('kv-hot')}}}", "values": "0.86x30"}
        )  # both names: one alert
        kv_fired["kv-old-hot"] = "0.86"
    for old in tpot_old:
        series += histogram(old, "tpot-old-slow", {"0.05": 0, "0.1": 0, "0.3": 10, "+Inf": 10})
        tpot_fired["tpot-old-slow"] = "0.29"
    return {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": NOW,
                        "alertname": "KVCacheNearlyFull",
                        "exp_alerts": expect(spec, "KVCacheNearlyFull", kv_fired),
                    },
                    # 4 minutes above the threshold is not yet 5
                    {"eval_time": "4m", "alertname": "KVCacheNearlyFull", "exp_alerts": []},
                    {
                        "eval_time": NOW,
                        "alertname": "RequestQueueGrowing",
                        "exp_alerts": expect(spec, "RequestQueueGrowing", {"queue-growing": None}),
                    },
                    {
                        "eval_time": NOW,
                        "alertname": "TimeToFirstTokenP95AboveTarget",
                        "exp_alerts": expect(spec, "TimeToFirstTokenP95AboveTarget", {"ttft-slow": "4.875"}),
                    },
                    {
                        "eval_time": NOW,
                        "alertname": "TimePerOutputTokenP95AboveTarget",
                        "exp_alerts": expect(spec, "TimePerOutputTokenP95AboveTarget", tpot_fired),
                    },
                    {
                        "eval_time": NOW,
                        "alertname": "RequestRateAbovePlannedCapacity",
                        "exp_alerts": expect(
                            spec, "RequestRateAbovePlannedCapacity", {"rate-busy": f"{busy / 60:.10f}"}
                        ),
                    },
                    # 15 minutes above the planned rate are needed: not yet at 10
                    {"eval_time": "10m", "alertname": "RequestRateAbovePlannedCapacity", "exp_alerts": []},
                    {
                        "eval_time": NOW,
                        "alertname": "EngineMetricsDown",
                        "exp_alerts": expect(
                            spec, "EngineMetricsDown", {"down": None}, severity="critical", job=ENGINE_JOB
                        ),
                    },
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("engine", "sized"),
    [("vllm", llama_awq_2xa100), ("sglang", llama_awq_2xa100), ("vllm", deepseek_fp8_8xh200)],
)
def test_each_alert_fires_when_it_should_and_not_otherwise(tmp_path: Path, engine: str, sized: Any) -> None:
    spec = sized(engine)
    d = write_rules(tmp_path, spec)
    (d / "tests.yml").write_text(yaml.safe_dump(unit_tests(spec), sort_keys=False))
    out = promtool("test", "rules", "tests.yml", cwd=d).stdout
    assert "SUCCESS" in out


def test_promtool_test_rules_catches_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness can fail: expecting the 0.84 series to fire makes promtool report a failure."""
    spec = llama_awq_2xa100()
    d = write_rules(tmp_path, spec)
    doc = unit_tests(spec)
    kv = doc["tests"][0]["alert_rule_test"][0]
    kv["exp_alerts"] += expect(spec, "KVCacheNearlyFull", {"kv-cool": "0.84"})
    (d / "tests.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    done = subprocess.run(
        [require("promtool"), "test", "rules", "tests.yml"], cwd=d, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "kv-cool" in done.stdout + done.stderr


def test_the_rate_alert_carries_the_plan_numbers() -> None:
    spec = llama_awq_2xa100()
    rule = next(
        r
        for r in rules_document(spec)["groups"][0]["rules"]
        if r["alert"] == "RequestRateAbovePlannedCapacity"
    )
    assert rule["expr"].endswith(f"> {spec.planned_rps_per_replica:.6g}")
    text = rule["annotations"]["description"]
    for number in (
        f"{spec.planned_rps_per_replica:.3g}",
        f"{spec.capacity_rps_per_replica:.3g}",
        "1000+300 tokens",
        "TPOT <= 100 ms",
        "TTFT <= 3000 ms",
        "utilization 0.7",
        f"5 req/s on {spec.replicas} replica(s)",
    ):
        assert number in text, number


def test_kv_rule_reads_the_current_and_the_older_vllm_gauge() -> None:
    expr = next(
        r
        for r in rules_document(llama_awq_2xa100())["groups"][0]["rules"]
        if r["alert"] == "KVCacheNearlyFull"
    )["expr"]
    assert expr == "max by (instance) (vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc) >= 0.85"
