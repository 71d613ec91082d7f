#!/usr/bin/env python3
"""Benchmarks for selfhost: CLI cold start, engine, scalar capacity, Monte Carlo, sweep streaming.

Run from a checkout with the project installed (``pip install -e .``):

    python benchmarks/bench.py                  # full run (a few minutes)
    python benchmarks/bench.py --quick          # short run, as CI does (timings are not asserted there)
    python benchmarks/bench.py --json           # also print the results as JSON
    python benchmarks/bench.py --write-readme   # full run, then put the table in README.md's Speed section

What is measured
----------------
1. CLI cold start: ``python -m selfhost crossover --rps 5 --format json`` as a fresh subprocess,
   against the import floor ``python -c "import numpy, pydantic, yaml, rich, typer"``, rounds
   interleaved so machine load hits both alike, after a warm-up round that writes bytecode and
   the catalog cache (a private cache directory), as the first run after installation does.
   The ratio is taken per round; its median and spread (min-max) are printed. Also
   ``selfhost --help`` and, for reference, an empty two-option Typer command importing NumPy
   (what any Typer CLI pays). Target: median ratio <= 1.2.
2. Engine: 1,000 synthetic deployments (1-700 B parameters, dense and MoE, 16/8/4.5-bit weights,
   five GPU types with jittered bandwidth, 1/2/4/8 GPUs) through capacity, billing unit and
   monthly cost on a 1,000-point rate grid, plus the exact crossover against 16 APIs. Best of
   5 runs. Target: < 0.5 s.
3. Engine at scale: the same pipeline for 1,000,000 deployments at one rate.
4. Scalar capacity: `throughput.capacity` for one deployment at a time (a library caller's
   one-at-a-time use), median over 200 deployments.
5. Monte Carlo: the sampling stage of `crossover --rps 5 --uncertainty N` (crossover_samples) for
   the 30 comparisons of the default selection at three sample counts, and for every catalog
   model's comparisons at 1e6; each in a fresh process, time (best of 3 in it) and the
   process's peak RSS. Target: 1e6 samples over the default comparisons <= 1 s.
6. Sweep: every model at 10, 100 and 1,000 log-spaced rates, streamed as CSV to /dev/null; each
   in a fresh process, rows/s of the writing and the process's peak RSS. Target: >= 1 M rows/s,
   peak memory flat in the rows.

All timings are on one core: the process pins itself (and its subprocesses) to one CPU where the
OS allows it, and the BLAS/OpenMP thread counts are set to 1 before NumPy is imported.
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

COLD_START_TARGET_RATIO = 1.2
ENGINE_TARGET_S = 0.5
MONTE_CARLO_TARGET_S = 1.0  # for 1e6 samples over the default comparisons
SWEEP_TARGET_ROWS_PER_S = 1e6
README = Path(__file__).resolve().parents[1] / "README.md"
README_BEGIN = "<!-- benchmarks/bench.py: begin -->"
README_END = "<!-- benchmarks/bench.py: end -->"

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


# --------------------------------------------------------------------------- measured in a fresh process


def child(kind: str, size: int) -> dict[str, Any]:
    """One measurement in this (fresh) process; the parent reads its peak RSS."""
    from selfhost.catalog.loader import load_catalog
    from selfhost.question import Scenario, Selection

    catalog = load_catalog(env={})
    if kind == "baseline":  # imports and the catalog: what every measurement starts from
        return {}
    if kind in ("monte-carlo", "monte-carlo-every-model"):
        from selfhost.comparisons import headline_comparisons
        from selfhost.uncertainty import UncertaintySpec, crossover_samples

        models = tuple(m.id for m in catalog.models) if kind.endswith("every-model") else ()
        scenario = Scenario(selection=Selection(models=models), rps=5.0)  # `crossover --rps 5`
        comps = headline_comparisons(catalog, scenario)
        spec = UncertaintySpec(samples=size)
        best, _ = best_of(lambda: crossover_samples(catalog, scenario, comps, spec), 3)
        return {"comparisons": len(comps), "samples": size, "s": best}
    if kind == "sweep":
        from selfhost import questions
        from selfhost.render_chunks import write_csv_chunks

        scenario = Scenario.from_options(
            rates=None, rps_range=f"0.1:100:{size}", ops_usd_per_month=4000.0, max_tpot_ms=100.0,
            max_ttft_ms=3000.0, stale_days=90,
        )  # fmt: skip
        grid = questions.sweep(catalog, scenario)
        with open(os.devnull, "w") as sink:
            t0 = time.perf_counter()
            rows = write_csv_chunks(grid.header, grid.chunks(), sink)
            elapsed = time.perf_counter() - t0
        return {"rates": size, "rows": rows, "s": elapsed, "rows_per_s": rows / elapsed}
    raise SystemExit(f"unknown child measurement {kind}")


def run_child(kind: str, size: int, env: dict[str, str]) -> dict[str, Any]:
    """`child(kind, size)` in a fresh process: its result and its peak resident memory (``peak_rss_mb``)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(size)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    if proc.wait():
        raise SystemExit(f"benchmark child {kind} {size} failed ({proc.returncode})")
    return dict(json.loads(out))


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (Linux VmHWM; else ru_maxrss). [MB]"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux, bytes on macOS


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def interleaved_runs(
    cmds: dict[str, list[str]], runs: int, cwd: str, env: dict[str, str]
) -> dict[str, list[float]]:
    """Wall time of each command in each of ``runs`` rounds, after one untimed warm-up round.

    Rounds interleave the commands so that drift in machine load hits them alike. The warm-up
    writes bytecode and the catalog cache, as the first run after ``pip install`` does.
    """
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for i in range(runs + 1):
        for name, cmd in cmds.items():
            t0 = time.perf_counter()
            subprocess.run(
                cmd, cwd=cwd, env=env, check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            if i:
                times[name].append(time.perf_counter() - t0)
    return times


# What any Typer command pays before it does any work; since 0.29 Typer coerces each option
# through a pydantic TypeAdapter (pydantic's validation machinery, importlib.metadata), which the
# floor's lazy ``import pydantic`` never loads.
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


def scalar_capacity_us(n: int = 200) -> float:
    """Median time of one `throughput.capacity` call for one deployment (all fields scalars). [µs]"""
    import dataclasses

    s_all, _ = serve(synthetic_inputs(n, seed=3))
    singles = [
        throughput.ServingArrays(
            **{
                f.name: np.asarray(getattr(s_all, f.name))[..., i]
                if np.ndim(getattr(s_all, f.name))
                else getattr(s_all, f.name)
                for f in dataclasses.fields(s_all)
            }
        )
        for i in range(n)
    ]
    times = []
    for single in singles:
        t0 = time.perf_counter()
        throughput.capacity(single, INPUT_TOKENS, OUTPUT_TOKENS, MAX_TPOT_S, MAX_TTFT_S)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6


def pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity on this OS)"


def write_readme(table: list[str], header: str) -> None:
    """Replace the table between README's benchmark markers."""
    text = README.read_text(encoding="utf-8")
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    README.write_text(
        text[:start] + "\n" + header + "\n\n" + "\n".join(table) + "\n" + text[end:], encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes (for CI)")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--write-readme", action="store_true", help="put the table in README.md (full run)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps({**child(args.child[0], int(args.child[1])), "peak_rss_mb": peak_rss_mb()}))
        return 0
    if args.quick and args.write_readme:
        parser.error("--write-readme needs the full run")

    cli_runs = 5 if args.quick else 15
    engine_repeats = 2 if args.quick else 5
    n_deployments, n_rps, n_apis = 1000, 1000, 16
    n_large = 100_000 if args.quick else 1_000_000
    large_repeats = 1 if args.quick else 3
    mc_sizes = (10_000, 30_000, 100_000) if args.quick else (10_000, 100_000, 1_000_000)
    sweep_sizes = (3, 10, 30) if args.quick else (10, 100, 1000)

    pinned = pin_to_one_core()
    print(
        f"# selfhost benchmark ({'quick' if args.quick else 'full'}): Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {platform.machine()}, {pinned}",
        flush=True,
    )
    results: dict[str, Any] = {"quick": args.quick}
    work = tempfile.TemporaryDirectory()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env |= {"SELFHOST_CACHE_DIR": str(Path(work.name) / "cache"), "SELFHOST_CATALOG": ""}

    # 1. CLI cold start.
    times = interleaved_runs(
        {
            "crossover": [sys.executable, "-m", "selfhost", "crossover", "--rps", "5", "--format", "json"],
            "imports": [sys.executable, "-c", "import numpy, pydantic, yaml, rich, typer"],
            "help": [sys.executable, "-m", "selfhost", "--help"],
            "typer": [sys.executable, "-c", TYPER_FLOOR_SCRIPT],
        },
        cli_runs,
        work.name,
        env,
    )
    ratios = [c / f for c, f in zip(times["crossover"], times["imports"], strict=True)]
    med = {name: statistics.median(t) for name, t in times.items()}
    ratio, low, high = statistics.median(ratios), min(ratios), max(ratios)
    import typer

    results["cli"] = {
        "runs": cli_runs,
        "typer": typer.__version__,
        **{f"{name}_s": m for name, m in med.items()},
        "ratio_median": ratio,
        "ratio_min": low,
        "ratio_max": high,
    }
    print(
        f"cli cold start: crossover {med['crossover'] * 1000:.0f} ms, imports {med['imports'] * 1000:.0f} ms, "
        f"ratio {ratio:.2f} (min {low:.2f}, max {high:.2f}); --help {med['help'] * 1000:.0f} ms; "
        f"empty Typer {typer.__version__} command {med['typer'] * 1000:.0f} ms",
        flush=True,
    )

    # 2. Engine, 1,000 deployments x 1,000 rates.
    x = synthetic_inputs(n_deployments)
    rps = np.linspace(0.05, 200.0, n_rps)
    api = api_usd_per_request(n_apis)
    engine_s, out = best_of(lambda: pipeline(x, rps, api), engine_repeats)
    assert out["self_hosted"].shape == (n_deployments, n_rps)
    results["engine"] = {
        "deployments": n_deployments,
        "rps_points": n_rps,
        "apis": n_apis,
        "best_s": engine_s,
    }
    print(
        f"engine: {n_deployments} deployments x {n_rps} rps + x {n_apis} APIs in {engine_s:.3f} s", flush=True
    )

    # 3. Engine, many deployments at one rate.
    xl = synthetic_inputs(n_large, seed=2)
    large_s, _ = best_of(lambda: pipeline(xl, np.array([1.0]), api[:1]), large_repeats)
    results["engine_large"] = {
        "deployments": n_large,
        "best_s": large_s,
        "us_per_deployment": large_s / n_large * 1e6,
    }
    print(f"engine at scale: {n_large:,} deployments x 1 rps in {large_s:.3f} s", flush=True)

    # 4. One deployment at a time.
    scalar_us = scalar_capacity_us()
    results["scalar_capacity_us"] = scalar_us
    print(f"scalar capacity: {scalar_us:.0f} µs per one-deployment call", flush=True)

    # 5. Monte Carlo and 6. sweep, each in a fresh process (time, peak RSS).
    baseline = run_child("baseline", 0, env)
    results["baseline_peak_rss_mb"] = baseline["peak_rss_mb"]
    mc = [run_child("monte-carlo", n, env) for n in mc_sizes]
    mc_every = run_child("monte-carlo-every-model", mc_sizes[-1], env)
    results["monte_carlo"] = mc
    results["monte_carlo_every_model"] = mc_every
    for r in (*mc, mc_every):
        print(
            f"monte carlo: {r['samples']:,} samples x {r['comparisons']} comparisons in {r['s']:.3f} s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB (baseline {baseline['peak_rss_mb']:.0f} MB)",
            flush=True,
        )
    sweeps = [run_child("sweep", n, env) for n in sweep_sizes]
    results["sweep"] = sweeps
    for r in sweeps:
        print(
            f"sweep: {r['rows']:,} rows ({r['rates']} rates) at {r['rows_per_s'] / 1e6:.2f} M rows/s, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    work.cleanup()

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    top = mc[-1]
    rows = [
        (
            "CLI cold start: `selfhost crossover --rps 5 --format json`",
            f"{med['crossover'] * 1000:.0f} ms (median of {cli_runs})",
            "",
            "",
        ),
        (
            "Import floor: `import numpy, pydantic, yaml, rich, typer`",
            f"{med['imports'] * 1000:.0f} ms",
            "",
            "",
        ),
        (
            "Cold start / import floor, per interleaved round",
            f"{ratio:.2f}x median (min {low:.2f}, max {high:.2f})",
            f"<= {COLD_START_TARGET_RATIO}x",
            met(ratio <= COLD_START_TARGET_RATIO),
        ),
        ("`selfhost --help`", f"{med['help'] * 1000:.0f} ms", "", ""),
        (
            f"Reference: an empty two-option Typer {typer.__version__} command importing NumPy",
            f"{med['typer'] * 1000:.0f} ms = {med['typer'] / med['imports']:.2f}x the floor",
            "",
            "",
        ),
        (
            f"Engine: {n_deployments:,} deployments x {n_rps:,} rps (+ crossover vs {n_apis} APIs)",
            f"{engine_s:.3f} s",
            f"< {ENGINE_TARGET_S} s",
            met(engine_s < ENGINE_TARGET_S),
        ),
        (
            f"Engine: {n_large:,} deployments x 1 rps",
            f"{large_s:.3f} s ({large_s / n_large * 1e6:.2f} µs/deployment)",
            "",
            "",
        ),
        ("Scalar `capacity()`: one deployment per call", f"{scalar_us:.0f} µs (median of 200)", "", ""),
        *(
            (
                f"Monte Carlo: {r['samples']:,} samples x {r['comparisons']} comparisons (`crossover --rps 5`)",
                f"{r['s']:.3f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
                f"<= {MONTE_CARLO_TARGET_S:g} s" if r is top and r["samples"] >= 1_000_000 else "",
                met(r["s"] <= MONTE_CARLO_TARGET_S) if r is top and r["samples"] >= 1_000_000 else "",
            )
            for r in mc
        ),
        (
            f"Monte Carlo: {mc_every['samples']:,} samples x {mc_every['comparisons']} comparisons (every model)",
            f"{mc_every['s']:.3f} s, peak RSS {mc_every['peak_rss_mb']:.0f} MB",
            "",
            "",
        ),
        *(
            (
                f"Sweep to CSV: {r['rows']:,} rows (every model x {r['rates']} rates)",
                f"{r['rows_per_s'] / 1e6:.2f} M rows/s, peak RSS {r['peak_rss_mb']:.0f} MB",
                ">= 1 M rows/s",
                met(r["rows_per_s"] >= SWEEP_TARGET_ROWS_PER_S),
            )
            for r in sweeps
        ),
        (
            "A process after imports and loading the catalog (the peaks above include it)",
            f"peak RSS {baseline['peak_rss_mb']:.0f} MB",
            "",
            "",
        ),
    ]
    table = ["| Measurement (one core) | Result | Target | Met |", "| --- | --- | --- | --- |"]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    print()
    print("\n".join(table))
    if args.json:
        print()
        print(json.dumps(results, indent=2))
    if args.write_readme:
        header = (
            f"Measured by `python benchmarks/bench.py --write-readme` on {time.strftime('%Y-%m-%d')}: "
            f"Python {platform.python_version()}, NumPy {np.__version__}, Typer {typer.__version__}, "
            f"{platform.machine()}, one core pinned, machine load average {os.getloadavg()[0]:.1f} at the end."
        )
        write_readme(table, header)
        print(f"\nwrote the table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
