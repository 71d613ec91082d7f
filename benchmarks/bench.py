#!/usr/bin/env python3
"""Benchmarks for selfhost: CLI cold start and vectorized engine throughput.

Run from a checkout with the project installed (``pip install -e .``):

    python benchmarks/bench.py            # full run (about half a minute)
    python benchmarks/bench.py --quick    # short run, as CI does (timings are not asserted there)
    python benchmarks/bench.py --json     # also print the results as JSON

What is measured
----------------
1. CLI cold start: median wall time of ``python -m selfhost crossover --rps 5 --format json`` as a
   fresh subprocess, against the floor set by importing the dependencies alone
   (``python -c "import numpy, pydantic, yaml, rich, typer"``). Target: within 1.5x of the floor.
   For reference, also an empty Typer command that imports NumPy: what any Typer CLI pays before
   it does any work (Typer parses options with pydantic, which the floor's lazy
   ``import pydantic`` never loads). Commands are interleaved, after a warm-up that writes
   bytecode caches as a first run after installation does.
2. Engine: 1,000 synthetic deployments (1-700 B parameters, dense and MoE, 16/8/4.5-bit weights,
   five GPU types with jittered bandwidth, 1/2/4/8 GPUs) taken from memory through capacity,
   billing unit and monthly cost on a 1,000-point request-rate grid (1,000,000 deployment x rps
   scenarios), plus the exact crossover against 16 API prices per deployment. Best of 5 runs of
   the whole pipeline. Target: < 0.5 s.
3. Engine at scale: the same pipeline for 1,000,000 deployments at one request rate, to show the
   vectorized capacity search (integer bisection) scales linearly.
4. Monte Carlo: `crossover --rps 5 --uncertainty 100000` on the built-in catalog, for the
   llama-3.3-70b comparisons (the README's headline) and for every model's comparisons (the
   default selection): the sampling, capacity interpolation, costs, crossovers and quantiles,
   after the base-case comparisons are built (untimed), best of 5 runs. Target: < 1 s (well under
   is the aim). Also the whole analysis call, comparisons included.

All timings are on one core: the process pins itself (and its subprocesses) to one CPU where the
OS allows it, and the BLAS/OpenMP thread counts are set to 1 before NumPy is imported. The engine
uses only element-wise NumPy operations, which are single-threaded anyway.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

try:
    import selfhost  # noqa: F401
except ImportError:  # a bare checkout: use the source tree (dependencies must still be installed)
    _SRC = Path(__file__).resolve().parents[1] / "src"
    sys.path.insert(0, str(_SRC))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SRC), os.environ.get("PYTHONPATH")]))

from selfhost.engine import cost, crossover, memory, throughput  # noqa: E402

COLD_START_TARGET_RATIO = 1.5
ENGINE_TARGET_S = 0.5
MONTE_CARLO_SAMPLES = 100_000
MONTE_CARLO_TARGET_S = 1.0

# Synthetic GPU types: (device memory bytes, bandwidth bytes/s, dense BF16 FLOP/s,
# interconnect bytes/s per GPU, USD per GPU-hour, GPUs per instance). Round datasheet figures.
GPUS = np.array(
    [
        (85.52e9, 3.35e12, 989e12, 900e9, 2.50, 8),  # H100 SXM class
        (80.0e9, 2.04e12, 312e12, 600e9, 1.40, 8),  # A100 80GB class
        (48.0e9, 0.864e12, 362e12, 64e9, 0.90, 1),  # L40S class
        (192.0e9, 5.30e12, 1307e12, 896e9, 2.00, 1),  # MI300X class
        (24.0e9, 1.01e12, 165e12, 32e9, 0.40, 1),  # RTX 4090 class
    ]
)
BITS = np.array([16.0, 8.0, 4.5])
GPU_COUNTS = np.array([1.0, 2.0, 4.0, 8.0])

# Workload: the CLI's defaults.
INPUT_TOKENS = 1000.0
OUTPUT_TOKENS = 300.0
CONTEXT_TOKENS = 8192.0
MAX_TPOT_S = 0.100
MAX_TTFT_S = 3.0
TARGET_UTILIZATION = 0.7
MIN_REPLICAS = 1.0
HOURS_PER_MONTH = 730.0
OPS_USD_PER_MONTH = 4000.0


def synthetic_inputs(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw per-deployment inputs (model shape, quantization, GPU, count), shape (n,) each."""
    rng = np.random.default_rng(seed)
    params = 10.0 ** rng.uniform(9.0, np.log10(700e9), n)  # 1-700 B parameters
    moe = rng.random(n) < 0.3
    layers = np.clip(np.round(8.0 * np.log2(params / 1e8)), 16, 126)
    vocab = rng.choice([32_000.0, 128_256.0, 151_936.0], n)
    hidden = np.round(np.sqrt(params / (12.0 * layers)) / 128.0) * 128.0
    hidden = np.maximum(hidden, 1024.0)
    embedding = vocab * hidden
    lm_head = np.where(rng.random(n) < 0.5, embedding, 0.0)  # half tie the output head
    expert_share = np.where(moe, 0.85, 0.0)  # routed experts' share of all parameters
    active_fraction = np.where(moe, rng.choice([2 / 8, 8 / 128, 8 / 256], n), 0.0)
    active_params = params * (1.0 - expert_share) + params * expert_share * active_fraction
    kv_heads = rng.choice([4.0, 8.0, 16.0], n)
    head_dim = 128.0
    gpu = GPUS[rng.integers(0, len(GPUS), n)]
    n_gpus = rng.choice(GPU_COUNTS, n)
    return {
        "params": params,
        "embedding": embedding,
        "lm_head": lm_head,
        "bits": rng.choice(BITS, n),
        "expert_share": expert_share,
        "active_fraction": active_fraction,
        "active_params": active_params,
        "layers": layers,
        "hidden": hidden,
        "kv_heads": kv_heads,
        "head_dim": np.full(n, head_dim),
        "device_memory": gpu[:, 0],
        "bandwidth": gpu[:, 1] * rng.uniform(0.8, 1.2, n),
        "flops": gpu[:, 2],
        "interconnect": gpu[:, 3],
        "usd_per_gpu_hour": gpu[:, 4],
        "instance_gpus": gpu[:, 5],
        "n_gpus": n_gpus,
    }


def serve(x: dict[str, np.ndarray]) -> tuple[throughput.ServingArrays, np.ndarray]:
    """Memory model -> ServingArrays and fit verdicts, via the engine functions."""
    w_bytes = memory.weight_bytes(x["params"], x["embedding"], x["lm_head"], x["bits"], 16.0, 16.0)
    usable = memory.usable_memory_bytes(x["n_gpus"], x["device_memory"], 1.0, 0.92, 3.0e9)
    replication = memory.kv_replication_factor(x["n_gpus"], x["kv_heads"])
    kv_per_token = 2.0 * x["layers"] * x["kv_heads"] * x["head_dim"] * 2.0 * replication  # K+V, BF16
    kv_tokens = memory.kv_capacity_tokens(usable, w_bytes, kv_per_token)
    verdict = memory.fit_verdict(usable, w_bytes, kv_tokens, CONTEXT_TOKENS)
    s = throughput.ServingArrays(
        n_gpus=x["n_gpus"],
        memory_bandwidth_bytes_s=x["bandwidth"],
        peak_flops=x["flops"],
        interconnect_bytes_s=x["interconnect"],
        weight_bytes=w_bytes,
        expert_weight_bytes=w_bytes * x["expert_share"],
        expert_active_fraction=x["active_fraction"],
        kv_bytes_per_token=kv_per_token,
        flops_per_token=2.0 * x["active_params"],
        attention_flops_per_token_per_context=4.0 * x["layers"] * x["hidden"],
        num_layers=x["layers"],
        hidden_size=x["hidden"],
        kv_capacity_tokens=np.where(verdict == memory.FITS, kv_tokens, 0.0),
        memory_bandwidth_utilization=np.full_like(x["n_gpus"], 0.70),
        compute_utilization=np.full_like(x["n_gpus"], 0.45),
        step_overhead_s=np.full_like(x["n_gpus"], 0.004),
        allreduce_latency_s=np.full_like(x["n_gpus"], 2.0e-5),
        max_batch_sequences=np.full_like(x["n_gpus"], 256.0),
    )
    return s, verdict


def api_usd_per_request(n_apis: int, seed: int = 1) -> np.ndarray:
    """USD per request of ``n_apis`` synthetic API prices, shape (n_apis,)."""
    rng = np.random.default_rng(seed)
    usd_in = 10.0 ** rng.uniform(-1.5, 1.0, n_apis)  # $0.03 - $10 per 1M input tokens
    usd_out = usd_in * rng.uniform(2.0, 5.0, n_apis)
    return cost.api_usd_per_request(
        input_tokens=INPUT_TOKENS,
        output_tokens=OUTPUT_TOKENS,
        usd_per_mtok_input=usd_in,
        usd_per_mtok_output=usd_out,
    )


def pipeline(x: dict[str, np.ndarray], rps: np.ndarray, api_per_request: np.ndarray) -> dict[str, np.ndarray]:
    """Memory -> capacity -> billing unit -> monthly costs on the rps grid -> crossovers."""
    s, verdict = serve(x)
    cap = throughput.capacity(s, INPUT_TOKENS, OUTPUT_TOKENS, MAX_TPOT_S, MAX_TTFT_S)
    col = (slice(None), None)
    unit_col = cost.billing_unit(
        capacity_rps=cap.point.requests_per_s[col],
        target_utilization=TARGET_UTILIZATION,
        min_replicas=MIN_REPLICAS,
        gpus_per_replica=x["n_gpus"][col],
        instance_gpus=x["instance_gpus"][col],
        usd_per_gpu_hour=x["usd_per_gpu_hour"][col],
        hours_per_month=HOURS_PER_MONTH,
    )
    grid = rps[None, :]
    self_hosted = cost.self_hosted_usd_per_month(grid, unit_col, OPS_USD_PER_MONTH)  # (n, n_rps)
    matched_api = api_per_request[np.arange(len(verdict)) % len(api_per_request)][col]
    api = cost.api_usd_per_month(grid, matched_api, HOURS_PER_MONTH)  # (n, n_rps)
    cheaper = self_hosted < api
    cross = crossover.crossover_rps(unit_col, OPS_USD_PER_MONTH, api_per_request[None, :], HOURS_PER_MONTH)
    return {
        "verdict": verdict,
        "capacity_rps": cap.point.requests_per_s,
        "self_hosted": self_hosted,
        "cheaper": cheaper,
        "crossover_rps": cross.rps,
        "crossover_reason": cross.reason,
    }


def monte_carlo(models: list[str] | None, samples: int, repeats: int) -> dict[str, Any]:
    """Time the Monte Carlo stage of `crossover --rps 5 --uncertainty N` on the built-in catalog."""
    from selfhost.catalog.loader import load_catalog
    from selfhost.comparisons import headline_comparisons
    from selfhost.question import Scenario, Selection
    from selfhost.uncertainty import UncertaintySpec, crossover_samples, crossover_with_uncertainty

    catalog = load_catalog(env={})
    chosen = tuple(m.id for m in catalog.models) if models is None else tuple(models)
    scenario = Scenario(selection=Selection(models=chosen), rps=5.0)  # the CLI's defaults otherwise
    spec = UncertaintySpec(samples=samples)
    comps = headline_comparisons(catalog, scenario)
    stage_s, _ = best_of(lambda: crossover_samples(catalog, scenario, comps, spec), repeats)
    whole_s, report = best_of(lambda: crossover_with_uncertainty(catalog, scenario, spec=spec), repeats)
    return {
        "pairs": len(comps),
        "samples": samples,
        "stage_s": stage_s,
        "whole_s": whole_s,
        "results": report.results,
    }


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def median_run_s(cmds: dict[str, list[str]], runs: int, cwd: str) -> dict[str, float]:
    """Median wall time of each command over ``runs`` rounds, after one untimed warm-up round.

    Rounds interleave the commands so that drift in machine load hits them alike. The warm-up
    writes bytecode caches, as the first run after ``pip install`` does on a user's machine:
    PYTHONDONTWRITEBYTECODE is dropped from the children's environment for that reason.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for i in range(runs + 1):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(
                cmd,
                cwd=cwd,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
            )
            if i:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


# Any Typer >= 0.29 command pays this: Typer coerces each option through a pydantic TypeAdapter,
# which loads pydantic's validation machinery (and importlib.metadata for its plugin lookup);
# ``import pydantic`` in the floor is lazy and loads none of it.
TYPER_FLOOR_SCRIPT = """
import numpy, typer
app = typer.Typer(add_completion=False)
@app.command()
def crossover(rps: float = typer.Option(5.0, "--rps"), fmt: str = typer.Option("table", "--format")) -> None:
    print(numpy.float64(rps), fmt)
@app.callback()
def main() -> None:
    pass
app(["crossover", "--rps", "5", "--format", "json"])
"""


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity on this OS)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (for CI)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = parser.parse_args(argv)

    cli_runs = 3 if args.quick else 7
    engine_repeats = 2 if args.quick else 5
    n_deployments = 1000
    n_rps = 1000
    n_apis = 16
    n_large = 100_000 if args.quick else 1_000_000
    large_repeats = 1 if args.quick else 3

    pinned = pin_to_one_core()
    print(
        f"# selfhost benchmark ({'quick' if args.quick else 'full'}): Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {platform.machine()}, {pinned}",
        flush=True,
    )

    results: dict[str, Any] = {"quick": args.quick}

    # 1. CLI cold start.
    with tempfile.TemporaryDirectory() as cwd:
        medians = median_run_s(
            {
                "crossover": [
                    sys.executable,
                    "-m",
                    "selfhost",
                    "crossover",
                    "--rps",
                    "5",
                    "--format",
                    "json",
                ],
                "imports": [sys.executable, "-c", "import numpy, pydantic, yaml, rich, typer"],
                "typer": [sys.executable, "-c", TYPER_FLOOR_SCRIPT],
            },
            cli_runs,
            cwd,
        )
    cli, floor, typer_floor = medians["crossover"], medians["imports"], medians["typer"]
    ratio = cli / floor
    results["cli"] = {
        "runs": cli_runs,
        "crossover_s": cli,
        "imports_s": floor,
        "typer_command_s": typer_floor,
        "ratio": ratio,
        "typer_ratio": typer_floor / floor,
    }
    print(
        f"cli cold start: crossover {cli:.3f} s, imports {floor:.3f} s, ratio {ratio:.2f}; "
        f"an empty Typer command {typer_floor:.3f} s, ratio {typer_floor / floor:.2f}",
        flush=True,
    )

    # 2. Engine, 1,000 deployments x 1,000 rates.
    x = synthetic_inputs(n_deployments)
    rps = np.linspace(0.05, 200.0, n_rps)
    api = api_usd_per_request(n_apis)
    engine_s, out = best_of(lambda: pipeline(x, rps, api), engine_repeats)
    fits = int(np.sum(out["verdict"] == memory.FITS))
    serving = int(np.sum(out["capacity_rps"] > 0))
    crosses = int(np.sum(out["crossover_reason"] == crossover.CROSSES))
    assert out["self_hosted"].shape == (n_deployments, n_rps)
    results["engine"] = {
        "deployments": n_deployments,
        "rps_points": n_rps,
        "apis": n_apis,
        "repeats": engine_repeats,
        "best_s": engine_s,
        "fit": fits,
        "serving": serving,
        "crossovers_finite": crosses,
    }
    print(
        f"engine: {n_deployments} deployments x {n_rps} rps + x {n_apis} APIs in {engine_s:.3f} s "
        f"(fit {fits}, serve {serving}, finite crossovers {crosses}/{n_deployments * n_apis})",
        flush=True,
    )

    # 3. Engine, many deployments at one rate.
    xl = synthetic_inputs(n_large, seed=2)
    large_s, _ = best_of(lambda: pipeline(xl, np.array([1.0]), api[:1]), large_repeats)
    results["engine_large"] = {
        "deployments": n_large,
        "repeats": large_repeats,
        "best_s": large_s,
        "us_per_deployment": large_s / n_large * 1e6,
    }
    print(f"engine at scale: {n_large:,} deployments x 1 rps in {large_s:.3f} s", flush=True)

    # 4. Monte Carlo uncertainty on the built-in catalog.
    mc_repeats = 2 if args.quick else 5
    mc_llama = monte_carlo(["llama-3.3-70b"], MONTE_CARLO_SAMPLES, mc_repeats)
    mc_all = monte_carlo(None, MONTE_CARLO_SAMPLES, mc_repeats)
    for name, mc in (("llama-3.3-70b", mc_llama), ("all models", mc_all)):
        results[f"monte_carlo_{'llama' if name != 'all models' else 'all'}"] = {
            k: v for k, v in mc.items() if k != "results"
        }
        print(
            f"monte carlo ({name}): {mc['samples']:,} samples x {mc['pairs']} comparisons in "
            f"{mc['stage_s']:.3f} s (whole analysis {mc['whole_s']:.3f} s)",
            flush=True,
        )
    for r in mc_llama["results"]:
        print(
            f"  {r['model']} vs {r['api']}: crossover P10/P50/P90 "
            f"{r['crossover_rps_p10']}/{r['crossover_rps_p50']}/{r['crossover_rps_p90']} req/s, "
            f"P(self cheaper at 5 req/s) {r['probability_self_hosted_cheaper']:.3f}",
            flush=True,
        )

    def status(ok: bool) -> str:
        return "yes" if ok else "no"

    rows = [
        (
            "CLI cold start: `selfhost crossover --rps 5 --format json`",
            f"{cli * 1000:.0f} ms (median of {cli_runs})",
            "",
            "",
        ),
        (
            "Import floor: `import numpy, pydantic, yaml, rich, typer`",
            f"{floor * 1000:.0f} ms (median of {cli_runs})",
            "",
            "",
        ),
        (
            "Reference: an empty two-option Typer command that imports NumPy",
            f"{typer_floor * 1000:.0f} ms = {typer_floor / floor:.2f}x the import floor",
            "",
            "",
        ),
        (
            "Cold start / import floor",
            f"{ratio:.2f}x",
            f"<= {COLD_START_TARGET_RATIO}x",
            status(ratio <= COLD_START_TARGET_RATIO),
        ),
        (
            f"Engine: {n_deployments:,} deployments x {n_rps:,} rps (+ crossover vs {n_apis} APIs)",
            f"{engine_s:.3f} s (best of {engine_repeats})",
            f"< {ENGINE_TARGET_S} s",
            status(engine_s < ENGINE_TARGET_S),
        ),
        (
            f"Engine: {n_large:,} deployments x 1 rps",
            f"{large_s:.3f} s (best of {large_repeats}; {large_s / n_large * 1e6:.2f} µs/deployment)",
            "",
            "",
        ),
        *(
            (
                f"Monte Carlo: {mc['samples']:,} samples, {label} ({mc['pairs']} comparisons)",
                f"{mc['stage_s']:.3f} s (best of {mc_repeats}); whole analysis {mc['whole_s']:.3f} s",
                f"< {MONTE_CARLO_TARGET_S:g} s",
                status(mc["stage_s"] < MONTE_CARLO_TARGET_S),
            )
            for label, mc in (("llama-3.3-70b", mc_llama), ("every model", mc_all))
        ),
    ]
    print()
    print("| Measurement (one core) | Result | Target | Met |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if args.json:
        print()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
