#!/usr/bin/env python3
"""Mutation check: break the engine's formulas on purpose and see whether a unit test fails.

    python scripts/mutants.py                      # every mutant against the engine unit tests
    python scripts/mutants.py step-max fit-kv-le   # some of them
    python scripts/mutants.py --list               # what each mutant changes
    python scripts/mutants.py --tests tests/test_engine_throughput.py   # against other tests
    python scripts/mutants.py --full               # each mutant against the whole suite (slow)

Each mutant is one exact text replacement in one file of src/ (a slip a careful reader could make:
one all-reduce per layer instead of two, max instead of a sum, round instead of ceil, < for <=).
The script copies the checkout (tracked and untracked files, without .git, virtualenvs and caches)
into a temporary directory, applies one mutant at a time there, and runs pytest in the copy with
the copy's src/ first on sys.path, so the mutated code is what the tests import; the checkout is
never modified. The unmutated copy must pass first. A mutant is *caught* when pytest fails, and
*survived* when it passes; "broken" means pytest could not even run (the mutant does not import).

Prints one line per mutant and a table; exits 1 if any mutant survived (2 if the baseline fails or
a mutant no longer applies, e.g. after a refactor: update its text here). Not part of CI: 30-80 s
on two cores with the default tests, depending on load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE_TESTS = (
    "tests/test_engine_hand.py",
    "tests/test_engine_throughput.py",
    "tests/test_engine_memory.py",
    "tests/test_engine_cost.py",
    "tests/test_engine_crossover.py",
    "tests/test_capacity_search.py",
    "tests/test_uncertainty_chunks.py",
    "tests/test_config_table.py",
)
SELF_TEST = "tests/test_mutation_script.py"
SKIP = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "dist",
    "build",
}


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # from the repository root
    old: str  # must occur exactly once
    new: str
    what: str


THROUGHPUT = "src/selfhost/engine/throughput.py"
MEMORY = "src/selfhost/engine/memory.py"
COST = "src/selfhost/engine/cost.py"
CROSSOVER = "src/selfhost/engine/crossover.py"
UNCERTAINTY = "src/selfhost/uncertainty.py"
SCENARIOS = "src/selfhost/scenarios.py"
ANALYSIS = "src/selfhost/analysis.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "allreduce-once",
        THROUGHPUT,
        "ALLREDUCES_PER_LAYER = 2.0",
        "ALLREDUCES_PER_LAYER = 1.0",
        "one all-reduce per layer instead of two (after attention and after the MLP)",
    ),
    Mutant(
        "step-max",
        THROUGHPUT,
        "return np.asarray(t_linear + t_attention + allreduce_time_s(s, b)",
        "return np.asarray(np.maximum(t_linear, t_attention) + allreduce_time_s(s, b)",
        "decode step = max(linear, attention) instead of their sum",
    ),
    Mutant(
        "prefill-unbatched",
        THROUGHPUT,
        "tpot = step + b * marginal_s / d",
        "tpot = step + marginal_s / d",
        "load_point: one prefill per D steps instead of B (B * prefill_marginal / D)",
    ),
    Mutant(
        "ring-volume-halved",
        THROUGHPUT,
        "2.0 * (n - 1.0) / n * np.asarray(tokens, dtype=float)",
        "(n - 1.0) / n * np.asarray(tokens, dtype=float)",
        "ring all-reduce moves (n-1)/n of the activations instead of 2 (n-1)/n",
    ),
    Mutant(
        "attention-memory-only",
        THROUGHPUT,
        "b * c * s.attention_flops_per_token_per_context / peak,",
        "0.0 * peak,",
        "attention time ignores its FLOPs (only the KV reads)",
    ),
    Mutant(
        "kv-read-once-per-kv-head-always",
        THROUGHPUT,
        "b * c * s.kv_bytes_per_token * s.kv_reads_per_step / bandwidth,",
        "b * c * s.kv_bytes_per_token / bandwidth,",
        "an older kernel's KV reads per query head are ignored (kv_reads_per_step dropped)",
    ),
    Mutant(
        "decode-full-context",
        THROUGHPUT,
        "step = decode_step_time_s(s, b, p + d / 2.0)",
        "step = decode_step_time_s(s, b, p + d)",
        "decode at the final context P + D instead of the mean P + D/2",
    ),
    Mutant(
        "ttft-without-step",
        THROUGHPUT,
        "ttft = prefill_s + step",
        "ttft = prefill_s + 0.0 * step",
        "TTFT leaves out the decode step the new prompt joins",
    ),
    Mutant(
        "prefill-sum",
        THROUGHPUT,
        "np.maximum(t_compute, t_memory) + allreduce_time_s(s, p)",
        "t_compute + t_memory + allreduce_time_s(s, p)",
        "idle prefill adds compute and weight streaming instead of overlapping them",
    ),
    Mutant(
        "marginal-no-comm",
        THROUGHPUT,
        "return np.asarray(t_compute + t_comm, dtype=float)",
        "return np.asarray(t_compute, dtype=float)",
        "prefill_marginal leaves out the prompt's all-reduce traffic",
    ),
    Mutant(
        "moe-all-experts",
        THROUGHPUT,
        "base.shape))\n    return share",
        "base.shape))\n    return 0.0 * share",
        "MoE: every step reads every expert",
    ),
    Mutant(
        "mla-prefill-as-decode",
        THROUGHPUT,
        "np.where(own > 0, own, s.attention_flops_per_token_per_context)",
        "s.attention_flops_per_token_per_context + 0.0 * own",
        "prefill attends in decode's form (MLA: the absorbed one) instead of its own",
    ),
    Mutant(
        "capacity-kv-round",
        THROUGHPUT,
        "kv_limit = np.floor(s.kv_capacity_tokens / np.maximum(1.0, attended_context_tokens(s, p + d / 2.0)))",
        "kv_limit = np.round(s.kv_capacity_tokens / np.maximum(1.0, attended_context_tokens(s, p + d / 2.0)))",
        "capacity: KV batch limit rounded instead of floored",
    ),
    Mutant(
        "capacity-tie-engine",
        THROUGHPUT,
        "np.broadcast_to(kv_limit, shape) <= np.broadcast_to(s.max_batch_sequences, shape)",
        "np.broadcast_to(kv_limit, shape) < np.broadcast_to(s.max_batch_sequences, shape)",
        "capacity: a tie between the KV limit and the engine cap reported as the engine cap",
    ),
    Mutant(
        "fit-kv-le",
        MEMORY,
        "np.where(kv < context, CONTEXT_TOO_LARGE, FITS)",
        "np.where(kv <= context, CONTEXT_TOO_LARGE, FITS)",
        "fit: a KV cache of exactly one full-context sequence does not fit (off by one)",
    ),
    Mutant(
        "fit-weights-gt",
        MEMORY,
        "np.where(weights >= usable, WEIGHTS_TOO_LARGE,",
        "np.where(weights > usable, WEIGHTS_TOO_LARGE,",
        "fit: weights that fill memory exactly are not 'too large' (off by one)",
    ),
    Mutant(
        "kv-capacity-ceil",
        MEMORY,
        "return np.asarray(np.floor(free / np.asarray(kv_bytes_per_token, dtype=float)), dtype=float)",
        "return np.asarray(np.ceil(free / np.asarray(kv_bytes_per_token, dtype=float)), dtype=float)",
        "KV capacity rounds a partial token up",
    ),
    Mutant(
        "sequences-round",
        MEMORY,
        "return np.asarray(np.floor(np.asarray(kv_tokens, dtype=float) / per_seq), dtype=float)",
        "return np.asarray(np.round(np.asarray(kv_tokens, dtype=float) / per_seq), dtype=float)",
        "concurrent sequences rounded instead of floored",
    ),
    Mutant(
        "overhead-once",
        MEMORY,
        "return np.asarray(np.maximum(0.0, n * per_gpu), dtype=float)",
        "return np.asarray(np.maximum(0.0, n * per_gpu + (n - 1.0) * np.asarray(runtime_overhead_bytes_per_gpu, dtype=float)), dtype=float)",
        "usable memory subtracts the runtime overhead once per replica, not once per GPU",
    ),
    Mutant(
        "kv-no-replication",
        MEMORY,
        "return np.asarray(np.maximum(1.0, n / heads), dtype=float)",
        "return np.asarray(np.maximum(1.0, 0.0 * n / heads), dtype=float)",
        "KV heads are never replicated when GPUs outnumber them",
    ),
    Mutant(
        "fit-context-ge",
        "src/selfhost/analysis.py",
        "too_long = workload.context_tokens > c.model.max_context_tokens",
        "too_long = workload.context_tokens >= c.model.max_context_tokens",
        "`fit`: a context equal to the model's maximum is refused (off by one)",
    ),
    Mutant(
        "replicas-round",
        COST,
        "np.ceil(np.asarray(rps, dtype=float) / np.where(per_replica > 0, per_replica, 1.0))",
        "np.round(np.asarray(rps, dtype=float) / np.where(per_replica > 0, per_replica, 1.0))",
        "replicas(rps) rounded instead of ceiled",
    ),
    Mutant(
        "replicas-no-minimum",
        COST,
        "return np.asarray(np.maximum(np.asarray(min_replicas, dtype=float), needed), dtype=float)",
        "return np.asarray(needed, dtype=float)",
        "replicas(rps) ignores min_replicas",
    ),
    Mutant(
        "units-round",
        COST,
        "np.ceil(r / np.where(unit.rps > 0, unit.rps, 1.0))",
        "np.round(r / np.where(unit.rps > 0, unit.rps, 1.0))",
        "billing units for a rate rounded instead of ceiled",
    ),
    Mutant(
        "min-units-round",
        COST,
        "min_units = np.ceil(np.asarray(min_replicas, dtype=float) / replicas)",
        "min_units = np.round(np.asarray(min_replicas, dtype=float) / replicas)",
        "billing units for min_replicas rounded instead of ceiled",
    ),
    # the fast paths: each must give exactly what its reference gives
    Mutant(
        "bisect-skips-bmax-check",
        THROUGHPUT,
        "    ok_hi = flat(ok_hi)\n",
        "    ok_hi = flat(ok_hi) | True\n",
        "capacity's large path: every deployment taken as feasible at its batch limit",
    ),
    Mutant(
        "bisect-stops-early",
        THROUGHPUT,
        "        if np.all(high <= low):",
        "        if np.any(high <= low):",
        "capacity's large path: the bisection stops when one interval closes, not all",
    ),
    Mutant(
        "into-no-flat-step",
        CROSSOVER,
        "        np.maximum(aq, m0, out=aq)",
        "        np.maximum(aq, 0.0, out=aq)",
        "crossover_rps_into: the minimum-units step left out (m = m*, not max(m*, m0))",
    ),
    Mutant(
        "node-below-guess-only",
        UNCERTAINTY,
        "        if not (up.any() or down.any()):",
        "        if True:",
        "node_below: the binned guess and one step taken as they are, never checked against the nodes",
    ),
    Mutant(
        "configs-ways-offset",
        SCENARIOS,
        "way_rows = np.repeat(start - first_row, size)",
        "way_rows = np.repeat(start, size)",
        "replica_configs: each block's ways read from the wrong offset in the table of ways",
    ),
    Mutant(
        "grid-price-run",
        ANALYSIS,
        "(np.arange(len(config_index)) - run_start)",
        "(np.arange(len(config_index)) * 0)",
        "deployment_grid: every row of a config priced with its GPU's first option",
    ),
)


def copy_tree(destination: Path) -> None:
    """The checkout without .git, virtualenvs, caches and build output."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP or n.endswith((".pyc", ".egg-info"))}

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)


def environment(tree: Path, cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["SELFHOST_CACHE_DIR"] = str(cache)
    env.pop("SELFHOST_CATALOG", None)
    return env


def run_tests(tree: Path, env: dict[str, str], tests: list[str], stop_early: bool) -> tuple[int, str, float]:
    # the test that the mutants' texts exist fails on every mutated copy by construction
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--ignore={SELF_TEST}", *tests]
    if stop_early:
        command.insert(4, "-x")
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def first_failure(output: str) -> str:
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.M)
    return match.group(1) if match else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--tests", nargs="+", default=list(ENGINE_TESTS), help="test files or node ids")
    parser.add_argument("--full", action="store_true", help="run the whole suite against each mutant")
    args = parser.parse_args(argv)
    by_name = {m.name: m for m in MUTANTS}
    if args.list:
        for m in MUTANTS:
            print(f"{m.name:<22} {m.path}: {m.what}")
        return 0
    unknown = [n for n in args.names if n not in by_name]
    if unknown:
        print(f"unknown mutant(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    chosen = [by_name[n] for n in args.names] if args.names else list(MUTANTS)
    tests = [] if args.full else args.tests

    with tempfile.TemporaryDirectory(prefix="selfhost-mutants-") as tmp:
        tree, cache = Path(tmp) / "tree", Path(tmp) / "cache"
        copy_tree(tree)
        env = environment(tree, cache)
        where = subprocess.run(
            [sys.executable, "-c", "import selfhost; print(selfhost.__file__)"],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if not Path(where).resolve().is_relative_to((tree / "src").resolve()):
            print(
                f"the copy's selfhost is not the one imported ({where}); cannot test mutants", file=sys.stderr
            )
            return 2
        for m in chosen:  # every mutant must still apply to today's source
            count = (tree / m.path).read_text(encoding="utf-8").count(m.old)
            if count != 1:
                print(
                    f"mutant {m.name}: its text occurs {count} times in {m.path}; update scripts/mutants.py",
                    file=sys.stderr,
                )
                return 2
        rc, output, seconds = run_tests(tree, env, tests, stop_early=False)
        print(
            f"baseline: {'pass' if rc == 0 else 'FAIL'} ({seconds:.1f} s, {' '.join(tests) or 'whole suite'})"
        )
        if rc != 0:
            print(output[-3000:], file=sys.stderr)
            return 2
        rows = []
        for m in chosen:
            path = tree / m.path
            original = path.read_text(encoding="utf-8")
            path.write_text(original.replace(m.old, m.new), encoding="utf-8")
            try:
                rc, output, seconds = run_tests(tree, env, tests, stop_early=True)
            finally:
                path.write_text(original, encoding="utf-8")
            verdict = "caught" if rc == 1 else "SURVIVED" if rc == 0 else f"broken (pytest rc {rc})"
            by = first_failure(output) if rc == 1 else "-"
            rows.append((m.name, verdict, by, seconds))
            print(f"{m.name:<22} {verdict:<9} {seconds:5.1f} s  {by}", flush=True)

    print("\n| Mutant | What it changes | Result | First failing test |")
    print("|---|---|---|---|")
    for (name, verdict, by, _), m in zip(rows, chosen, strict=True):
        print(f"| `{name}` | {m.what} | {verdict} | `{by}` |")
    survived = [r[0] for r in rows if r[1] == "SURVIVED"]
    caught = sum(r[1] == "caught" for r in rows)
    print(f"\n{caught} of {len(rows)} caught" + (f"; survived: {', '.join(survived)}" if survived else ""))
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
