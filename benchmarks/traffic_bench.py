#!/usr/bin/env python3
"""Benchmarks for traffic profiles: reading a large usage log, and pricing profiles.

    python benchmarks/traffic_bench.py           # about half a minute
    python benchmarks/traffic_bench.py --quick   # a smaller log and fewer deployments

What is measured (best of 3, one core):

1. `selfhost.traffic.profile_from_file` on a JSON-lines access log of N requests spread over
   two weeks (nginx `msec`, status and token fields as docs/traffic-profile.md defines them):
   lines/s and MB/s, streamed (the log is never held whole).
2. `selfhost.engine.traffic_cost.profile_costs` (fixed and hourly autoscaled, 168 hours) for
   1,000 deployments at once.
3. `profile_crossover` with hourly autoscaling for 1,000 deployments (an exact step walk each):
   the time per deployment.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from selfhost.engine import cost  # noqa: E402
from selfhost.engine import traffic_cost as tc  # noqa: E402
from selfhost.traffic import profile_from_file  # noqa: E402

MONDAY = 1736121600  # 2025-01-06T00:00:00Z


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def write_log(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    times = np.sort(MONDAY + rng.uniform(0, 14 * 86400, n))
    prompts = rng.integers(50, 4000, n)
    with path.open("w", encoding="utf-8") as f:
        for t, p in zip(times, prompts, strict=True):
            f.write(
                f'{{"time":"-","msec":"{t:.3f}","status":"200","request_time":"1.2",'
                f'"prompt_tokens":"{p}","completion_tokens":"250","cached_tokens":""}}\n'
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_lines = 100_000 if args.quick else 1_000_000
    n_deployments = 100 if args.quick else 1_000
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.jsonl"
        write_log(log, n_lines)
        size_mb = log.stat().st_size / 1e6
        seconds, w = best_of(lambda: profile_from_file(log))
        print(
            f"1. read {n_lines:,} log lines ({size_mb:.0f} MB): {seconds:.2f} s, "
            f"{n_lines / seconds:,.0f} lines/s, {size_mb / seconds:.1f} MB/s; profile {w.profile.shape}"
        )  # type: ignore[attr-defined]

    rng = np.random.default_rng(1)
    rates = np.array([4.0 if 9 <= h % 24 < 18 and h // 24 < 5 else 0.6 for h in range(168)])
    capacity = rng.uniform(0.2, 5.0, n_deployments)
    price = rng.uniform(0.5, 6.0, n_deployments)
    gpus = rng.choice([1, 2, 4, 8], n_deployments)

    def billing_unit() -> cost.BillingUnit:
        return cost.billing_unit(
            capacity_rps=capacity,
            target_utilization=0.7,
            min_replicas=1,
            gpus_per_replica=gpus,
            instance_gpus=8,
            usd_per_gpu_hour=price,
            hours_per_month=730.0,
        )

    seconds, _ = best_of(
        lambda: tc.profile_costs(
            rates, billing_unit(), capacity_rps=capacity, usd_per_request=0.004, ops_usd_per_month=4000.0
        )
    )
    print(f"2. fixed + autoscaled cost, {n_deployments:,} deployments x 168 h: {seconds * 1e3:.1f} ms")
    unit = billing_unit()
    seconds, result = best_of(
        lambda: tc.profile_crossover(
            rates,
            unit,
            ops_usd_per_month=4000.0,
            usd_per_request=0.004,
            hours_per_month=730.0,
            billing_granularity_h=1,
        )
    )
    crosses = int(np.sum(result.reason == 0))  # type: ignore[attr-defined]
    print(
        f"3. exact autoscaled crossover, {n_deployments:,} deployments: {seconds:.2f} s "
        f"({seconds / n_deployments * 1e3:.2f} ms each; {crosses} cross)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
