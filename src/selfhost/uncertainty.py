"""Monte Carlo uncertainty of costs and crossovers: P10/P50/P90 and P(self-hosting cheaper).

The uncertain inputs and how they are drawn (each draw independent, uniform or lognormal):

- GPU price: uniform between the lowest and highest price of that GPU among the catalog's
  rental offers of the same pricing kind (on-demand by default), across providers. With one
  such offer, or for owned hardware, +-``GPU_PRICE_FALLBACK_SPREAD`` around the chosen price.
  One draw per GPU and pricing kind per sample: deployments on the same GPU move together.
- API prices: every list price of an API (input, output, cached) times one factor uniform in
  ``1 -+ API_PRICE_SPREAD``; one draw per API per sample.
- Engine efficiency: MBU and MFU times a lognormal factor ``exp(sigma * z)``, each capped at 1;
  one draw per engine profile per sample, shared by its deployments, with sigma
  ``EFFICIENCY_SIGMA``. A deployment on a GPU without measurements behind the profile
  (``gpu_measured: false``) adds its own draw, so its factor has the wider sigma
  ``EFFICIENCY_SIGMA_EXTRAPOLATED``. Both are the calibration's leave-one-source-out mean
  absolute log errors (docs/accuracy.md), on GPUs the held-out fold had measured and had not.
- Utilization target, operations cost, token mix and rate are fixed (they are decisions, not
  estimates; `selfhost sensitivity` varies them).

Capacity under a changed efficiency needs the capacity search (an integer bisection). Rather
than run it per sample, it runs once on ``EFFICIENCY_NODES`` log-spaced efficiency factors
spanning the samples (plus the catalog value itself) and each sample interpolates linearly in
log-efficiency between the two nearest nodes. With zero spread every sample sits on the node
1.0 and reproduces the deterministic result exactly.

Everything else is one array computation of shape (n_pairs, n_samples), in chunks of pairs
that bound memory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from selfhost.analysis import CostAssumptions, DeploymentGrid, Record, Report, _number, costs, deployment_grid
from selfhost.apis import request_usd
from selfhost.comparisons import (
    Comparisons,
    capacity_rps,
    grid_rows,
    headline_comparisons,
    take_unit,
)
from selfhost.engine import cost, crossover
from selfhost.errors import InputError
from selfhost.scenarios import PriceOption, ReplicaConfig, Workload

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog
    from selfhost.question import Scenario

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int_]

API_PRICE_SPREAD = (
    0.10  # list prices are public; +-10 % covers volume discounts, tiers and a quarter's changes
)
# The throughput model's mean |ln(predicted / measured)| on published measurements it was not
# fitted to (leave one source out, docs/calibration-fit.json): 0.197 on GPUs the fold had measured
# behind the engine's profile, 0.297 on GPUs it had not. A lognormal has E|ln X| = sigma *
# sqrt(2 / pi), so sigma = 0.197 / 0.798 = 0.25 and 0.297 / 0.798 = 0.37 (a test holds them together).
EFFICIENCY_SIGMA = 0.25
EFFICIENCY_SIGMA_EXTRAPOLATED = 0.37
GPU_PRICE_FALLBACK_SPREAD = 0.20  # when the catalog has a single offer, or for owned hardware
EFFICIENCY_NODES = 65  # capacity evaluations spanning the efficiency samples, ~1.5 % apart at sigma 0.25
QUANTILES = (0.10, 0.50, 0.90)
QUANTILE_NAMES = ("p10", "p50", "p90")
DEFAULT_SEED = 0
MAX_CELLS_PER_CHUNK = 500_000  # samples x pairs per chunk: about 16 MB per float array


@dataclass(frozen=True)
class UncertaintySpec:
    """How many samples and how wide each input's distribution is.

    samples : Monte Carlo samples. [count]
    seed : Seed of NumPy's default generator; the same seed gives the same output.
    api_price_spread : Half-width of the uniform factor on API prices. [unitless]
    efficiency_sigma : Sigma of the lognormal factor on MBU and MFU. [unitless]
    efficiency_sigma_extrapolated : The same on a GPU without measurements behind the engine
        profile (at least ``efficiency_sigma``). [unitless]
    gpu_price_fallback_spread : Half-width of the GPU price range without a catalog range. [unitless]
    gpu_price_range_from_catalog : Use the catalog's lowest-highest offer as the GPU price range.
    """

    samples: int
    seed: int = DEFAULT_SEED
    api_price_spread: float = API_PRICE_SPREAD
    efficiency_sigma: float = EFFICIENCY_SIGMA
    efficiency_sigma_extrapolated: float = EFFICIENCY_SIGMA_EXTRAPOLATED
    gpu_price_fallback_spread: float = GPU_PRICE_FALLBACK_SPREAD
    gpu_price_range_from_catalog: bool = True

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise InputError(f"--uncertainty {self.samples} must be at least 1 sample")
        if not 0.0 <= self.api_price_spread < 1.0 or not 0.0 <= self.gpu_price_fallback_spread < 1.0:
            raise InputError("price spreads must be at least 0 and below 1")
        if self.efficiency_sigma < 0.0:
            raise InputError("the efficiency sigma must not be negative")
        if self.efficiency_sigma_extrapolated < self.efficiency_sigma:
            raise InputError("the extrapolated efficiency sigma must be at least the measured one")

    def record(self) -> dict[str, Any]:
        """The assumptions block entry."""
        return {
            "samples": self.samples,
            "seed": self.seed,
            "quantiles": list(QUANTILES),
            "gpu_price": (
                "uniform between the lowest and highest price of the GPU among the catalog's offers of the "
                f"same pricing kind; +-{self.gpu_price_fallback_spread:g} relative with a single offer or owned"
                if self.gpu_price_range_from_catalog
                else f"uniform +-{self.gpu_price_fallback_spread:g} relative around the chosen price"
            ),
            "api_price_spread": self.api_price_spread,
            "efficiency_sigma": self.efficiency_sigma,
            "efficiency_sigma_extrapolated": self.efficiency_sigma_extrapolated,
            "efficiency_sigma_source": "calibration residuals, leave-one-source-out, on GPUs with and "
            "without measurements behind the engine profile (docs/accuracy.md)",
            "fixed": ["target_utilization", "ops_usd_per_month", "input_tokens", "output_tokens", "rps"],
        }


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class PriceRange:
    """Range of one GPU price draw. ``key`` names the draw that deployments share."""

    key: tuple[str, str]
    low_usd_per_gpu_hour: float
    high_usd_per_gpu_hour: float
    basis: str


def gpu_price_range(catalog: Catalog, option: PriceOption, spec: UncertaintySpec) -> PriceRange:
    """The GPU price range of a deployment's price option. [USD/h]"""
    if spec.gpu_price_range_from_catalog and option.pricing != "owned":
        same = [
            o.usd_per_gpu_hour
            for o in catalog.rental_offers
            if o.gpu == option.gpu_id and o.pricing == option.pricing
        ]
        if len(same) > 1:
            return PriceRange(
                (option.gpu_id, option.pricing),
                min(same),
                max(same),
                f"{len(same)} {option.pricing} offers for {option.gpu_id}",
            )
    f = spec.gpu_price_fallback_spread
    price = option.usd_per_gpu_hour
    return PriceRange(
        ("option", option.id), price * (1.0 - f), price * (1.0 + f), f"+-{f:.0%} of {option.id}"
    )


@dataclass(frozen=True)
class Draws:
    """Random factors, one row per shared draw, shape (n_keys, n_samples).

    price_u : Uniform(0, 1) position in each GPU price range.
    api_multiplier : Factor on each API's list prices. [unitless]
    efficiency_multiplier : Factor on MBU and MFU: one row per engine, then one per extrapolated
        (engine, GPU) pair. [unitless]
    """

    price_u: FloatArray
    api_multiplier: FloatArray
    efficiency_multiplier: FloatArray


def draw(
    spec: UncertaintySpec, n_price_keys: int, n_apis: int, n_engines: int, extrapolated: Sequence[int] = ()
) -> Draws:
    """All random factors of a run, drawn in a fixed order from ``spec.seed``.

    ``extrapolated`` holds, for each (engine, GPU) pair without measurements, its engine's row:
    its factor shares that engine's draw and adds its own, for a total sigma of
    ``spec.efficiency_sigma_extrapolated``.
    """
    rng = np.random.default_rng(spec.seed)
    n = spec.samples
    price_u = rng.random((n_price_keys, n))
    api_u = rng.random((n_apis, n))
    z = rng.standard_normal((n_engines, n))
    z_own = rng.standard_normal((len(extrapolated), n))
    sigma_own = np.sqrt(spec.efficiency_sigma_extrapolated**2 - spec.efficiency_sigma**2)
    log_factor = np.vstack(
        [spec.efficiency_sigma * z, spec.efficiency_sigma * z[list(extrapolated)] + sigma_own * z_own]
    )
    return Draws(
        price_u=price_u,
        api_multiplier=1.0 + spec.api_price_spread * (2.0 * api_u - 1.0),
        efficiency_multiplier=np.exp(log_factor),
    )


def _index(keys: Sequence[Any]) -> tuple[list[Any], IntArray]:
    """Distinct keys in first-seen order, and each position's index into them."""
    distinct = list(dict.fromkeys(keys))
    where = {k: i for i, k in enumerate(distinct)}
    return distinct, np.array([where[k] for k in keys], dtype=int)


def interpolated_capacity(
    configs: Sequence[ReplicaConfig],
    engine_index: IntArray,
    efficiency_multiplier: FloatArray,
    workload: Workload,
) -> FloatArray:
    """Capacity of each config under each sample's efficiency factor. [requests/s]

    Parameters
    ----------
    configs : n_configs replica configs.
    engine_index : Row of ``efficiency_multiplier`` each config uses, shape (n_configs,).
    efficiency_multiplier : shape (n_engines, n_samples). [unitless]

    Returns
    -------
    array, shape (n_configs, n_samples). [requests/s]
    """
    eff = efficiency_multiplier
    low, high = float(eff.min()), float(eff.max())
    nodes = (
        np.unique(np.append(np.geomspace(low, high, EFFICIENCY_NODES), 1.0))
        if high > low
        else np.array([low])
    )
    n_nodes = len(nodes)
    p = np.full(n_nodes, float(workload.input_tokens))
    d = np.full(n_nodes, float(workload.output_tokens))
    at_nodes = capacity_rps(configs, workload, nodes, p, d).T  # (n_configs, G)
    x_nodes = np.log(nodes)
    out = np.empty((len(configs), eff.shape[1]))
    for e in np.unique(engine_index):
        which = np.flatnonzero(engine_index == e)
        if n_nodes == 1:
            out[which, :] = at_nodes[which, :1]
            continue
        x = np.log(eff[e])
        j = np.clip(np.searchsorted(x_nodes, x, side="right") - 1, 0, n_nodes - 2)
        w = np.clip((x - x_nodes[j]) / (x_nodes[j + 1] - x_nodes[j]), 0.0, 1.0)
        below, above = at_nodes[which][:, j], at_nodes[which][:, j + 1]
        out[which, :] = below * (1.0 - w) + above * w
    return out


def _sampled_units(
    grid: DeploymentGrid,
    rows: IntArray,
    workload: Workload,
    ca: CostAssumptions,
    draws: Draws,
    price_ranges: Sequence[PriceRange],
    price_key_index: IntArray,
    engine_key_index: IntArray,
) -> cost.BillingUnit:
    """Billing units of grid ``rows`` under every sample, fields of shape (n_rows, n_samples) or (n_rows, 1).

    ``price_key_index`` and ``engine_key_index`` (shape (n_rows,)) pick each row's draw in
    ``draws.price_u`` (and ``price_ranges``) and in ``draws.efficiency_multiplier``.
    """
    configs = [grid.config(int(r)) for r in rows]
    cap = interpolated_capacity(configs, engine_key_index, draws.efficiency_multiplier, workload)
    low = np.array([price_ranges[k].low_usd_per_gpu_hour for k in price_key_index], dtype=float)
    high = np.array([price_ranges[k].high_usd_per_gpu_hour for k in price_key_index], dtype=float)
    price = low[:, None] + draws.price_u[price_key_index] * (high - low)[:, None]
    return cost.billing_unit(
        capacity_rps=cap,
        target_utilization=ca.target_utilization,
        min_replicas=ca.min_replicas,
        gpus_per_replica=np.array([c.n_gpus for c in configs], dtype=int)[:, None],
        instance_gpus=np.array([grid.price(int(r)).instance_gpus for r in rows], dtype=int)[:, None],
        usd_per_gpu_hour=price,
        hours_per_month=ca.hours_per_month,
    )


def quantiles(samples: FloatArray) -> FloatArray:
    """P10, P50, P90 along the sample axis (the last), shape (3, n_pairs); infinities allowed.

    Inverted-CDF quantiles: each is one of the samples, so an unbounded sample ('never')
    stays infinite instead of turning into NaN by interpolation.
    """
    return np.asarray(np.quantile(samples, QUANTILES, axis=-1, method="inverted_cdf"), dtype=float)


def _chunks(n_items: int, n_samples: int) -> list[slice]:
    size = max(1, MAX_CELLS_PER_CHUNK // max(1, n_samples))
    return [slice(i, min(n_items, i + size)) for i in range(0, n_items, size)]


@dataclass(frozen=True)
class EfficiencyKeys:
    """Which efficiency draw each deployment row uses (rows of `Draws.efficiency_multiplier`).

    engines : Engine ids, one draw each.
    extrapolated : For each (engine, GPU) pair without measurements, its engine's position.
    row_index : Each deployment's row: an engine's, or ``len(engines) + k`` for pair k.
    """

    engines: list[str]
    extrapolated: list[int]
    row_index: IntArray


def _efficiency_keys(configs: Sequence[ReplicaConfig]) -> EfficiencyKeys:
    engines, engine_index = _index([c.engine.id for c in configs])
    unmeasured = list(dict.fromkeys((c.engine.id, c.gpu.id) for c in configs if not c.gpu_measured))
    position = {pair: len(engines) + k for k, pair in enumerate(unmeasured)}
    rows = [position.get((c.engine.id, c.gpu.id), int(engine_index[i])) for i, c in enumerate(configs)]
    return EfficiencyKeys(engines, [engines.index(e) for e, _ in unmeasured], np.array(rows, dtype=int))


def _deployment_keys(
    catalog: Catalog, grid: DeploymentGrid, rows: IntArray, spec: UncertaintySpec
) -> tuple[list[PriceRange], IntArray, EfficiencyKeys]:
    """Price ranges and efficiency draws of the deployments, with each row's index into them."""
    ranges_by_key: dict[tuple[str, str], PriceRange] = {}
    row_keys = []
    for r in rows:
        price_range = gpu_price_range(catalog, grid.price(int(r)), spec)
        ranges_by_key.setdefault(price_range.key, price_range)
        row_keys.append(price_range.key)
    keys, price_index = _index(row_keys)
    efficiency = _efficiency_keys([grid.config(int(r)) for r in rows])
    return [ranges_by_key[k] for k in keys], price_index, efficiency


# --------------------------------------------------------------------------- crossover


def crossover_samples(
    catalog: Catalog, scenario: Scenario, comps: Comparisons, spec: UncertaintySpec
) -> tuple[list[Record], list[dict[str, Any]]]:
    """Per comparison: P10/P50/P90 of crossover, costs and saving, and P(self-hosting cheaper).

    Returns the extra keys of each pair's record, in pair order, and the GPU price ranges used.
    A crossover of 'never' counts as infinite (a null quantile in the output).
    """
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    rows, pair_row = np.unique(comps.rows, return_inverse=True)
    ranges, price_index, efficiency = _deployment_keys(catalog, comps.grid, rows, spec)
    engine_index = efficiency.row_index
    api_ids, api_index = _index([a.id for a in comps.apis])
    by_id = {a.id: a for a in comps.apis}
    base_per_request = request_usd(
        [by_id[i] for i in api_ids], workload.input_tokens, workload.output_tokens, ca.cached_input_fraction
    )  # (n_apis,)
    draws = draw(spec, len(ranges), len(api_ids), len(efficiency.engines), efficiency.extrapolated)
    extra: list[Record] = []
    for part in _chunks(len(comps), spec.samples):
        sub, sub_pair = np.unique(pair_row[part], return_inverse=True)
        unit = _sampled_units(
            comps.grid, rows[sub], workload, ca, draws, ranges, price_index[sub], engine_index[sub]
        )
        pair_unit = take_unit(unit, sub_pair, axis=0)  # (k, N)
        a = api_index[part]
        # every list price scales by the same factor, so the request price does too
        per_request = base_per_request[a, None] * draws.api_multiplier[a]
        self_usd = cost.self_hosted_usd_per_month(rps, pair_unit, ca.ops_usd_per_month)
        api_usd = cost.api_usd_per_month(rps, per_request, ca.hours_per_month)
        saving = api_usd - self_usd
        cross = crossover.crossover_rps(pair_unit, ca.ops_usd_per_month, per_request, ca.hours_per_month).rps
        cross = np.where(np.isnan(cross), np.inf, cross)
        stats = {
            "crossover_rps": quantiles(cross),
            "self_hosted_usd_per_month": quantiles(self_usd),
            "api_usd_per_month": quantiles(api_usd),
            "saving_usd_per_month": quantiles(saving),
        }
        cheaper = np.mean(saving > 0.0, axis=-1)
        never = np.mean(np.isinf(cross), axis=-1)
        for k in range(saving.shape[0]):
            record: Record = {
                f"{name}_{q}": _number(values[i, k])
                for name, values in stats.items()
                for i, q in enumerate(QUANTILE_NAMES)
            }
            record["probability_self_hosted_cheaper"] = float(cheaper[k])
            record["probability_no_crossover"] = float(never[k])
            extra.append(record)
    return extra, _ranges_record(ranges)


def _ranges_record(ranges: Sequence[PriceRange]) -> list[dict[str, Any]]:
    return [
        {
            "gpu_price_draw": "/".join(r.key),
            "low_usd_per_gpu_hour": r.low_usd_per_gpu_hour,
            "high_usd_per_gpu_hour": r.high_usd_per_gpu_hour,
            "basis": r.basis,
        }
        for r in ranges
    ]


def spec_of(scenario: Scenario) -> UncertaintySpec:
    """The scenario's samples and seed, with the calibrated spreads."""
    return UncertaintySpec(samples=scenario.samples, seed=scenario.seed)


def crossover_with_uncertainty(
    catalog: Catalog,
    scenario: Scenario,
    *,
    spec: UncertaintySpec | None = None,
    comps: Comparisons | None = None,
) -> Report:
    """The `crossover` report with Monte Carlo quantiles added to every record.

    ``spec`` defaults to the scenario's samples and seed; ``comps`` are the base case's
    comparisons when the caller has them (their report is copied, not changed).
    """
    spec = spec if spec is not None else spec_of(scenario)
    comps = comps if comps is not None else headline_comparisons(catalog, scenario)
    base = comps.report
    extra, ranges = crossover_samples(catalog, scenario, comps, spec) if len(comps) else ([], [])
    report = dataclasses.replace(
        base,
        results=[{**record, **more} for record, more in zip(base.results, extra, strict=True)],
        assumptions={**base.assumptions, "uncertainty": {**spec.record(), "gpu_price_ranges": ranges}},
        notes=[*base.notes, _note(spec, apis=True)],
    )
    return report


def _note(spec: UncertaintySpec, *, apis: bool) -> str:
    api_part = f"; API prices +-{spec.api_price_spread:.0%}" if apis else ""
    return (
        f"uncertainty: {spec.samples:,} samples (seed {spec.seed}); engine efficiency lognormal with sigma "
        f"{spec.efficiency_sigma:g}, {spec.efficiency_sigma_extrapolated:g} on a GPU without measurements "
        f"(calibration residuals, docs/accuracy.md); GPU prices uniform "
        f"across the catalog's providers{api_part}; utilization fixed"
    )


# --------------------------------------------------------------------------- cost


def costs_with_uncertainty(
    catalog: Catalog, scenario: Scenario, *, spec: UncertaintySpec | None = None, rows: int = 0
) -> Report:
    """The `cost` report with P10/P50/P90 of the monthly cost on its first ``rows`` records (0 = all).

    ``spec`` defaults to the scenario's samples and seed.
    """
    spec = spec if spec is not None else spec_of(scenario)
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    grid = deployment_grid(catalog, scenario)
    report = costs(catalog, scenario, grid=grid, rows=rows)
    shown = report.results if rows == 0 else report.results[:rows]
    report.assumptions["uncertainty"] = {**spec.record(), "gpu_price_ranges": []}
    report.notes.append(_note(spec, apis=False))
    if not shown:
        return report
    deployment_rows = grid_rows(grid, shown)
    ranges, price_index, efficiency = _deployment_keys(catalog, grid, deployment_rows, spec)
    engine_index = efficiency.row_index
    draws = draw(spec, len(ranges), 0, len(efficiency.engines), efficiency.extrapolated)
    tokens = workload.input_tokens + workload.output_tokens
    for part in _chunks(len(shown), spec.samples):
        unit = _sampled_units(
            grid, deployment_rows[part], workload, ca, draws, ranges, price_index[part], engine_index[part]
        )
        monthly = cost.self_hosted_usd_per_month(rps, unit, ca.ops_usd_per_month)
        q_month = quantiles(monthly)
        q_mtok = cost.usd_per_mtok(q_month, rps, tokens, ca.hours_per_month)
        for k, record in enumerate(shown[part]):
            for i, q in enumerate(QUANTILE_NAMES):
                record[f"self_hosted_usd_per_month_{q}"] = _number(q_month[i, k])
            for i, q in enumerate(QUANTILE_NAMES):
                record[f"self_hosted_usd_per_mtok_{q}"] = _number(q_mtok[i, k])
    report.assumptions["uncertainty"]["gpu_price_ranges"] = _ranges_record(ranges)
    return report
