"""One-at-a-time sensitivity of the crossover and the monthly saving: the tornado.

Each input is moved down and up by a relative range (default 30 %) with every other input at
its base value, and the crossover rate and the monthly saving (API minus self-hosted) of each
headline comparison are recomputed. The deployment is held at the base case's cheapest per
model, so a bar shows what that input alone does to that deployment's economics.

All perturbations of all comparisons are one array computation of shape
(n_scenarios, n_pairs): prices, utilization, operations cost and rate broadcast over the
billing-unit arrays; efficiency and token perturbations re-run the capacity search as extra
rows of one (n_scenarios, n_deployments) call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from selfhost.analysis import Record, Report, _number
from selfhost.apis import api_prices, api_usd_per_request
from selfhost.comparisons import Comparisons, capacity_rps, headline_comparisons, take_unit
from selfhost.engine import cost, crossover
from selfhost.errors import InputError
from selfhost.units import TOKENS_PER_MTOK

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog
    from selfhost.question import Scenario

DEFAULT_RANGE = 0.3  # +-30 %: about a quarter's move in GPU rental prices, and the uncalibrated efficiency


@dataclass(frozen=True)
class Input:
    """One input the tornado varies: its key in the output, labels and the unit of its values."""

    key: str
    label: str
    unit: str
    short: str  # table label, unit included


INPUTS: tuple[Input, ...] = (
    Input("gpu_price", "GPU price", "USD/GPU-h", "GPU price $/GPU-h"),
    Input(
        "api_price",
        "API prices (input and output)",
        "USD/1M tokens, blended for the token mix",
        "API prices $/1M tok",
    ),
    Input("target_utilization", "target utilization", "unitless", "target utilization"),
    Input(
        "engine_efficiency", "engine efficiency (MBU and MFU)", "x catalog value", "efficiency (MBU, MFU) x"
    ),
    Input("ops_cost", "operations cost", "USD/month", "ops $/month"),
    Input("input_tokens", "input tokens per request", "tokens", "input tokens"),
    Input("output_tokens", "output tokens per request", "tokens", "output tokens"),
    Input("rps", "request rate", "requests/s", "request rate req/s"),
)
_COLUMN = {inp.key: i for i, inp in enumerate(INPUTS)}

DEPLOYMENT_FIXED_NOTE = (
    "sensitivity keeps each model's deployment fixed at the base case's cheapest; "
    "at other inputs another deployment may be cheaper (re-run crossover to see)"
)


def scenario_multipliers(spread: float) -> np.ndarray:
    """Factor on each input in each scenario, shape (1 + 2 * n_inputs, n_inputs). [unitless]

    Row 0 is the base case (all ones); rows ``1 + 2i`` and ``2 + 2i`` move input ``i`` by
    ``1 - spread`` and ``1 + spread``.
    """
    n = len(INPUTS)
    m = np.ones((1 + 2 * n, n))
    for i in range(n):
        m[1 + 2 * i, i] = 1.0 - spread
        m[2 + 2 * i, i] = 1.0 + spread
    return m


def sensitivity_report(
    catalog: Catalog,
    scenario: Scenario,
    *,
    spread: float = DEFAULT_RANGE,
    comps: Comparisons | None = None,
) -> Report:
    """Tornado rows: per comparison and input, crossover and saving at input x (1 -+ spread).

    Records are grouped by comparison (in `crossover` order) and sorted by swing, largest first.
    ``low``/``high`` name the input's end (``1 - spread`` / ``1 + spread``), not the outcome's.
    Target utilization is capped at 1, and so are MBU and MFU; a capped end shows the value used.
    ``comps`` are the base case's comparisons when the caller has them.
    """
    if not 0.0 <= spread < 1.0:
        raise InputError(f"--range {spread:g} must be at least 0 and below 1 (0.3 = +-30 %)")
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    comps = comps if comps is not None else headline_comparisons(catalog, scenario)
    base = comps.report
    notes = [*base.notes, DEPLOYMENT_FIXED_NOTE]
    assumptions: dict[str, Any] = {
        **base.assumptions,
        "range": spread,
        "deployment": "fixed at the base case's cheapest per model",
        "inputs": {inp.key: f"{inp.label} [{inp.unit}]" for inp in INPUTS},
    }
    if not len(comps):
        return Report(results=[], assumptions=assumptions, notes=notes, verdict=base.verdict)

    grid = comps.grid
    m = scenario_multipliers(spread)  # (S, n_inputs)
    col = {k: m[:, i] for k, i in _COLUMN.items()}
    util = np.minimum(1.0, ca.target_utilization * col["target_utilization"])  # (S,)
    ops = ca.ops_usd_per_month * col["ops_cost"]
    p = workload.input_tokens * col["input_tokens"]
    d = workload.output_tokens * col["output_tokens"]
    rate = rps * col["rps"]
    eff = col["engine_efficiency"]

    # Deployments of the pairs, each once; capacity for every scenario in one call.
    rows, pair_row = np.unique(comps.rows, return_inverse=True)
    deployed = [grid.config(int(r)) for r in rows]
    cap = capacity_rps(deployed, workload, eff, p, d)  # (S, R)
    gpu_price = np.array([grid.price(int(r)).usd_per_gpu_hour for r in rows], dtype=float)  # (R,) [USD/h]
    price_per_hour = gpu_price[None, :] * col["gpu_price"][:, None]  # (S, R)
    unit = cost.billing_unit(
        capacity_rps=cap,
        target_utilization=util[:, None],
        min_replicas=ca.min_replicas,
        gpus_per_replica=np.array([c.n_gpus for c in deployed], dtype=int),
        instance_gpus=np.array([grid.price(int(r)).instance_gpus for r in rows], dtype=int),
        usd_per_gpu_hour=price_per_hour,
        hours_per_month=ca.hours_per_month,
    )
    pair_unit = take_unit(unit, pair_row, axis=1)  # (S, K)
    per_request = api_usd_per_request(
        api_prices(comps.apis), col["api_price"][:, None], p[:, None], d[:, None], ca.cached_input_fraction
    )  # (S, K)
    self_usd = cost.self_hosted_usd_per_month(rate[:, None], pair_unit, ops[:, None])
    api_usd = cost.api_usd_per_month(rate[:, None], per_request, ca.hours_per_month)
    saving = api_usd - self_usd
    cross = crossover.crossover_rps(pair_unit, ops[:, None], per_request, ca.hours_per_month).rps

    shape = saving.shape
    values = {
        "gpu_price": np.take(price_per_hour, pair_row, axis=1),
        "api_price": per_request * TOKENS_PER_MTOK / (p + d)[:, None],
        "target_utilization": np.broadcast_to(util[:, None], shape),
        "engine_efficiency": np.broadcast_to(eff[:, None], shape),
        "ops_cost": np.broadcast_to(ops[:, None], shape),
        "input_tokens": np.broadcast_to(p[:, None], shape),
        "output_tokens": np.broadcast_to(d[:, None], shape),
        "rps": np.broadcast_to(rate[:, None], shape),
    }

    results: list[Record] = []
    for k, pair in enumerate(base.results):
        rows_k: list[Record] = []
        for i, inp in enumerate(INPUTS):
            lo, hi = 1 + 2 * i, 2 + 2 * i
            swing = abs(float(saving[hi, k] - saving[lo, k]))
            cross_swing = abs(float(cross[hi, k] - cross[lo, k]))
            rows_k.append(
                {
                    "model": pair["model"],
                    "api": pair["api"],
                    "quant": pair["quant"],
                    "gpu": pair["gpu"],
                    "gpus_per_replica": pair["gpus_per_replica"],
                    "layout": pair["layout"],
                    "engine": pair["engine"],
                    "engine_confirmed": pair["engine_confirmed"],
                    "gpu_measured": pair["gpu_measured"],
                    "layout_measured": pair["layout_measured"],
                    "price_option": pair["price_option"],
                    "provider": pair["provider"],
                    "rps": rps,
                    "input": inp.key,
                    "unit": inp.unit,
                    "base_value": float(values[inp.key][0, k]),
                    "low_value": float(values[inp.key][lo, k]),
                    "high_value": float(values[inp.key][hi, k]),
                    "crossover_rps_base": _number(cross[0, k]),
                    "crossover_rps_low": _number(cross[lo, k]),
                    "crossover_rps_high": _number(cross[hi, k]),
                    "saving_usd_per_month_base": _number(saving[0, k]),
                    "saving_usd_per_month_low": _number(saving[lo, k]),
                    "saving_usd_per_month_high": _number(saving[hi, k]),
                    "swing_usd_per_month": _number(swing),
                    "crossover_swing_rps": _number(cross_swing),
                }
            )
        rows_k.sort(key=_swing_order)
        results.extend(rows_k)
    return Report(results=results, assumptions=assumptions, notes=notes, verdict=sensitivity_verdict(results))


def _swing_order(r: Record) -> tuple[float, float]:
    """Largest saving swing first (None = unbounded, first of all); then the crossover's swing."""

    def magnitude(x: float | None) -> float:
        return math.inf if x is None else x

    return (-magnitude(r["swing_usd_per_month"]), -magnitude(r["crossover_swing_rps"]))


def sensitivity_verdict(results: Sequence[Record]) -> str | None:
    """One line: which input swings the saving most, in how many comparisons."""
    if not results:
        return None
    top: dict[tuple[str, str], str] = {}
    for r in results:  # grouped by pair, largest swing first
        top.setdefault((r["model"], r["api"]), r["input"])
    counts: dict[str, int] = {}
    for key in top.values():
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts, key=lambda k: -counts[k])
    labels = {inp.key: inp.label for inp in INPUTS}
    parts = [f"{labels[key]} in {counts[key]}" for key in ranked]
    noun = "comparison" if len(top) == 1 else "comparisons"
    return f"The input that moves the monthly saving most, of {len(top)} {noun}: {', '.join(parts)}."
