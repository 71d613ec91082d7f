"""The hybrid plan: which workloads to self-host (sharing replicas) and which to send to an API.

`plan_report` turns resolved workloads (`selfhost.workloads`) and the catalog into the arrays
of `selfhost.engine.assignment`, solves exactly, and returns a `PlanReport`: one record per
workload (its choice, monthly cost and the base URL it should call), one per self-hosted
deployment, and the totals with the saving against all-API and all-self-hosted.

Capacity of a shared deployment: each workload's capacity per replica is computed at its own
token mix, its own TTFT target and the strictest TPOT target of the workloads sharing it; the replicas
needed are ``ceil(sum_i rps_i / (capacity_i x utilization))`` (each workload takes the share
of a replica its traffic needs). docs/plan.md explains why, and why not a request-weighted mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from selfhost.analysis import (
    LIMIT_WORDS,
    THROUGHPUT_NOTE,
    CostAssumptions,
    DeploymentGrid,
    Record,
    Report,
    _number,
    _with_evidence,
    api_provenance,
    config_record,
    deployment_grid,
    entry_provenance,
)
from selfhost.apis import request_usd, serves_context
from selfhost.engine import assignment, cost
from selfhost.errors import InputError
from selfhost.scenarios import KvDtype, PriceOption, ReplicaConfig, Workload
from selfhost.workloads import ResolvedWorkload

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering, Catalog
    from selfhost.question import Scenario

#: Where self-hosted workloads point by default: a placeholder for your own gateway (vLLM behind
#: nginx, say). ``{model}`` is replaced by the model id, ``{deployment}`` by the deployment name.
DEFAULT_SELF_HOSTED_BASE_URL = "https://llm.internal.example/v1"

#: Provider prefixes of LiteLLM model keys (the catalog's ``api_model``); the provider's own
#: OpenAI-compatible endpoint expects the name without them ("deepinfra/meta-llama/X" -> "meta-llama/X").
LITELLM_PROVIDER_PREFIXES = frozenset(
    {
        "gemini",
        "deepseek",
        "mistral",
        "together_ai",
        "fireworks_ai",
        "deepinfra",
        "groq",
        "nebius",
        "anthropic",
        "openai",
    }
)

CAPACITY_POOLING = (
    "per-workload capacity at its own token mix and TTFT target and the strictest TPOT target of "
    "the workloads sharing the deployment; replicas = ceil(sum of rps / (capacity x utilization))"
)


@dataclass
class PlanReport(Report):
    """A `Report` with the self-hosted deployments and the plan's totals beside the workload rows."""

    deployments: list[Record] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    selection_note: str | None = None  # why nothing can be self-hosted, said before the plan

    def document(self) -> dict[str, Any]:
        """``{"results": [workloads], "deployments": [...], "totals": {...}, "assumptions": {...}}``."""
        doc = super().document()
        return {
            "results": doc["results"],
            "deployments": self.deployments,
            "totals": self.totals,
            **{k: v for k, v in doc.items() if k != "results"},
        }


@dataclass(frozen=True)
class _Deployments:
    """Every (config, price) pair that serves some workload, with its load per workload.

    load_units, capacity_rps, concurrency, limit : shape (n_levels, k, n), one row per TPOT level;
        inf / 0 where it cannot serve.
    """

    configs: list[ReplicaConfig]
    prices: list[PriceOption]
    unit: cost.BillingUnit
    load_units: np.ndarray
    capacity_rps: np.ndarray
    concurrency: np.ndarray
    limit: np.ndarray


def request_model_name(api: ApiOffering) -> str:
    """The ``model`` to send to the API's base URL: its LiteLLM key without the provider prefix."""
    prefix, _, rest = api.api_model.partition("/")
    return rest if rest and prefix in LITELLM_PROVIDER_PREFIXES else api.api_model


def _tpot_levels(workloads: Sequence[ResolvedWorkload]) -> np.ndarray:
    """The distinct TPOT targets, ascending: the strictest TPOT of any set of workloads is one. [ms]"""
    return np.array(sorted({w.max_tpot_ms for w in workloads}), dtype=float)


#: Price codes per config position in a deployment key (config position * this + price code).
_KEY_STRIDE = 1 << 32


def _cheapest_rows(grid: DeploymentGrid, config_pos: np.ndarray) -> np.ndarray:
    """The rows of ``grid`` not dominated by a cheaper way to pay for the same thing, ascending.

    Two rows with the same config and the same billing unit (GPUs and replicas per unit, units
    always running) serve any load with the same number of units, so only the cheaper unit
    price can be in an optimal plan (the first listed on a tie, as the optimizer would pick).
    Dropping the others is exact, and it keeps the plan's size independent of how many offers
    the catalog lists for one GPU: a thousand offers are a handful of deployments, not 10^5.
    """
    u = grid.unit
    rows = np.arange(len(grid))
    groups = (config_pos[grid.config_index], u.gpus, u.replicas, u.min_units)
    order = np.lexsort((rows, u.usd_per_month, *reversed(groups)))
    columns = np.column_stack([np.asarray(g, dtype=float)[order] for g in groups])
    first = np.ones(len(order), dtype=bool)
    first[1:] = np.any(columns[1:] != columns[:-1], axis=1)
    return np.sort(order[first])


def _deployment_index(
    grid: DeploymentGrid,
    position: dict[int, int],
    price_codes: dict[str, int],
    keys: dict[int, int],
    chosen_configs: list[ReplicaConfig],
    chosen_prices: list[PriceOption],
    unit_rows: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """The undominated rows of ``grid`` (`_cheapest_rows`) and the deployment number of each;
    (config, price) pairs not seen in an earlier grid become new deployments (appended to the
    ``chosen_*`` lists and ``unit_rows``). Vectorized over rows; only each distinct new pair
    costs Python work."""
    if len(grid) == 0:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    config_pos = np.array([position[id(c)] for c in grid.configs], dtype=np.int64)
    rows = _cheapest_rows(grid, config_pos)
    codes = np.array([price_codes.setdefault(p.id, len(price_codes)) for p in grid.prices], dtype=np.int64)
    pair = config_pos[grid.config_index[rows]] * _KEY_STRIDE + codes[grid.price_index[rows]]
    unique, first, inverse = np.unique(pair, return_index=True, return_inverse=True)
    numbers = np.empty(len(unique), dtype=int)
    fresh: list[int] = []
    for u, value in enumerate(unique.tolist()):
        j = keys.get(value)
        if j is None:
            j = keys[value] = len(chosen_configs) + len(fresh)
            fresh.append(u)
        numbers[u] = j
    if fresh:
        new_rows = rows[first[np.array(fresh)]]
        chosen_configs.extend(grid.configs[int(c)] for c in grid.config_index[new_rows])
        chosen_prices.extend(grid.prices[int(p)] for p in grid.price_index[new_rows])
        unit = grid.unit
        unit_rows.append(
            np.column_stack(
                [
                    unit.gpus[new_rows],
                    unit.replicas[new_rows],
                    unit.usd_per_month[new_rows],
                    unit.min_units[new_rows],
                ]
            )
            .astype(float)
            .ravel()
        )
    return rows, numbers[inverse.ravel()]


def _deployments(
    catalog: Catalog,
    scenario: Scenario,
    configs: Sequence[ReplicaConfig],
    workloads: Sequence[ResolvedWorkload],
    tpot_levels_ms: np.ndarray,
) -> _Deployments:
    """Capacity of every allowed deployment for every workload at every TPOT level up to its own."""
    k, n_t = len(workloads), len(tpot_levels_ms)
    kv_dtype: KvDtype = scenario.kv_dtype  # type: ignore[assignment]
    position = {id(c): i for i, c in enumerate(configs)}
    by_model: dict[str, list[ReplicaConfig]] = {}
    for c in configs:
        by_model.setdefault(c.model.id, []).append(c)
    grids: dict[tuple[Workload, frozenset[str]], DeploymentGrid] = {}
    keys: dict[int, int] = {}  # (config position, price code) as one integer -> deployment
    price_codes: dict[str, int] = {}
    chosen_configs: list[ReplicaConfig] = []
    chosen_prices: list[PriceOption] = []
    unit_rows: list[np.ndarray] = []
    cells: list[tuple[int, int, np.ndarray, np.ndarray, DeploymentGrid]] = []
    for i, w in enumerate(workloads):
        model_ids = frozenset(m.id for m in w.models)
        subset = [c for m in w.models for c in by_model.get(m.id, [])]
        if not subset:
            continue
        for t in range(n_t):
            if tpot_levels_ms[t] > w.max_tpot_ms:
                continue  # a block holding w never has a looser TPOT than w's own
            spec = Workload(
                input_tokens=w.input_tokens,
                output_tokens=w.output_tokens,
                context_tokens=w.context_tokens,
                max_tpot_ms=float(tpot_levels_ms[t]),
                max_ttft_ms=w.max_ttft_ms,
                kv_dtype=kv_dtype,
            )
            grid = grids.get((spec, model_ids))
            if grid is None:
                grid = deployment_grid(catalog, scenario, configs=subset, workload=spec, cheapest_prices=True)
                grids[(spec, model_ids)] = grid
            rows, index = _deployment_index(
                grid, position, price_codes, keys, chosen_configs, chosen_prices, unit_rows
            )
            cells.append((t, i, rows, index, grid))
    n = len(chosen_configs)
    load = np.full((n_t, k, n), np.inf)
    capacity = np.zeros((n_t, k, n))
    concurrency = np.zeros((n_t, k, n))
    limit = np.zeros((n_t, k, n), dtype=np.int8)
    for t, i, rows, index, grid in cells:
        unit_rps = grid.unit.rps[rows]
        load[t, i, index] = np.where(
            unit_rps > 0, workloads[i].rps / np.where(unit_rps > 0, unit_rps, 1.0), np.inf
        )
        capacity[t, i, index] = grid.capacity.point.requests_per_s[rows]
        concurrency[t, i, index] = grid.capacity.batch[rows]
        limit[t, i, index] = grid.capacity.limit[rows]
    table = np.concatenate(unit_rows).reshape(n, 4) if unit_rows else np.zeros((0, 4))
    unit = cost.BillingUnit(
        gpus=table[:, 0],
        replicas=table[:, 1],
        usd_per_month=table[:, 2],
        rps=np.full(n, np.nan),  # depends on the workload: see load_units
        min_units=table[:, 3],
    )
    return _Deployments(chosen_configs, chosen_prices, unit, load, capacity, concurrency, limit)


def _api_costs(
    workloads: Sequence[ResolvedWorkload], ca: CostAssumptions
) -> tuple[np.ndarray, list[ApiOffering | None], list[list[tuple[ApiOffering, float]]]]:
    """Each workload's cheapest allowed API bill (inf: none), that API, and every allowed API's bill."""
    best = np.full(len(workloads), np.inf)
    chosen: list[ApiOffering | None] = []
    every: list[list[tuple[ApiOffering, float]]] = []
    for i, w in enumerate(workloads):
        apis = list(w.apis)
        if not apis:
            chosen.append(None)
            every.append([])
            continue
        per_request = request_usd(apis, w.input_tokens, w.output_tokens, ca.cached_input_fraction)
        monthly = cost.api_usd_per_month(w.rps, per_request, ca.hours_per_month)
        j = int(np.argmin(monthly))  # first of equals: catalog order
        best[i] = float(monthly[j])
        chosen.append(apis[j])
        every.append(list(zip(apis, (float(x) for x in monthly), strict=True)))
    return best, chosen, every


def _names(workloads: Sequence[ResolvedWorkload], indices: Sequence[int]) -> str:
    return ", ".join(workloads[i].name for i in indices)


def _infeasibility(
    workloads: Sequence[ResolvedWorkload], can_self_host: np.ndarray, api_usd: np.ndarray
) -> str:
    """Why no plan exists: the workloads that can go nowhere."""
    problems = []
    for i, w in enumerate(workloads):
        if can_self_host[i]:
            continue
        if w.spec.privacy_sensitive:
            problems.append(
                f"'{w.name}' is privacy_sensitive, but no deployment in the selection serves it "
                f"({w.input_tokens}+{w.output_tokens} tokens, TPOT <= {w.max_tpot_ms:g} ms, "
                f"TTFT <= {w.max_ttft_ms:g} ms)"
            )
        elif not np.isfinite(api_usd[i]):
            problems.append(f"'{w.name}' may use no API and no deployment in the selection serves it")
    detail = "; ".join(problems) or "no combination meets the constraints"
    return (
        f"no feasible plan: {detail}. Loosen its latency targets, widen --gpu/--quant/--gpus/--pricing, "
        "or allow an API"
    )


def _profile_echo(w: ResolvedWorkload) -> dict[str, Any]:
    """A workload's traffic profile in the assumptions: the file, its mean and peak rate."""
    if w.hourly_rps is None:
        return {}
    return {
        "traffic_profile": w.spec.traffic_profile,
        "profile_peak_rps": max(w.hourly_rps),
        "profile_hours": len(w.hourly_rps),
    }


def hourly_shape(workloads: Sequence[ResolvedWorkload]) -> np.ndarray | None:
    """Each workload's hourly rate over its mean rate, shape (k, H), or None when no workload
    has a traffic profile. H is 168 if any profile is a week (a day profile repeats 7 times),
    else 24; a workload without a profile is a row of ones. [unitless]"""
    profiles = [w.hourly_rps for w in workloads]
    if all(p is None for p in profiles):
        return None
    n_hours = 168 if any(p is not None and len(p) == 168 for p in profiles) else 24
    rows = []
    for w, rates in zip(workloads, profiles, strict=True):
        if rates is None or len(set(rates)) == 1:
            rows.append(np.ones(n_hours))
            continue
        r = np.asarray(rates, dtype=float)
        r = np.tile(r, n_hours // r.size)
        rows.append(r / w.rps)
    return np.array(rows, dtype=float)


def _granularity(
    shape: np.ndarray | None, provisioning: str, billing_hours: int, pricing: Sequence[str], where: str
) -> int | None:
    """The assignment's billing granularity: None for fixed provisioning (or no profile)."""
    if provisioning not in ("fixed", "autoscaled"):
        raise InputError(f"unknown --provisioning '{provisioning}'; use one of: fixed, autoscaled")
    if provisioning == "fixed":
        return None
    if shape is None:
        raise InputError(
            f"{where}--provisioning autoscaled needs a workload with a traffic_profile: sustained rates need "
            "the same replicas every hour"
        )
    if "owned" in pricing:
        raise InputError(
            "plan --provisioning autoscaled prices rented GPUs; owned hardware is paid for whether it runs "
            "or not: leave out --pricing owned (or plan it fixed)"
        )
    if billing_hours < 1 or shape.shape[1] % billing_hours:
        raise InputError(f"--billing-hours {billing_hours} must divide the profiles' {shape.shape[1]} hours")
    return billing_hours


def plan_report(
    catalog: Catalog,
    scenario: Scenario,
    workloads: Sequence[ResolvedWorkload],
    configs: Sequence[ReplicaConfig],
    *,
    self_hosted_base_url: str = DEFAULT_SELF_HOSTED_BASE_URL,
    source: str = "",
    provisioning: str = "fixed",
    billing_hours: int = 1,
) -> PlanReport:
    """The cheapest hybrid plan for ``workloads``, with the all-API and all-self-hosted baselines.

    ``configs`` are the replica configs self-hosting may use (any model; each workload uses only
    those of its candidate models); the scenario gives the costs and the KV dtype. ``source``
    names the workloads file in the assumptions. Workloads with a traffic profile make every
    block's units follow the hours: ``provisioning`` 'fixed' buys the busiest hour's units for
    the month, 'autoscaled' each hour's, paid in blocks of ``billing_hours``.

    Raises:
        InputError: too many workloads to solve exactly, or no feasible plan (the message names
            the workloads that can go nowhere).
    """
    k = len(workloads)
    where = f"{source}: " if source else ""
    if k > assignment.MAX_WORKLOADS:
        raise InputError(
            f"{where}{k} workloads; the exact plan solver takes at most {assignment.MAX_WORKLOADS} "
            f"(it checks 3^k splits into shared deployments). Merge workloads with the same model, "
            "token mix and targets, or plan in parts"
        )
    tpot = _tpot_levels(workloads)
    ca = scenario.priced
    shape = hourly_shape(workloads)
    granularity = _granularity(shape, provisioning, billing_hours, ca.pricing, where)
    deps = _deployments(catalog, scenario, configs, workloads, tpot)
    api_usd, api_choice, api_all = _api_costs(workloads, ca)
    problem = assignment.AssignmentProblem(
        api_usd_per_month=api_usd,
        load_units=deps.load_units,
        unit_usd_per_month=deps.unit.usd_per_month,
        unit_gpus=deps.unit.gpus,
        min_units=deps.unit.min_units,
        tpot_ms=np.array([w.max_tpot_ms for w in workloads], dtype=float),
        tpot_levels_ms=tpot,
        must_self_host=np.array([w.spec.privacy_sensitive for w in workloads], dtype=bool),
        ops_usd_per_month=ca.ops_usd_per_month,
        hourly_shape=shape,
        billing_granularity_h=granularity,
    )
    solution = assignment.solve(problem)
    singles = assignment.block_table(problem, share=False)
    alone = np.array([singles.usd_per_month[1 << i] for i in range(k)])
    can_self_host = np.isfinite(alone)
    if not solution.best.feasible:
        raise InputError(where + _infeasibility(workloads, can_self_host, api_usd))
    unshared = assignment.solve(problem, share=False).best

    # ------------------------------------------------------------------ deployments
    model_blocks: dict[str, int] = {}
    for b in solution.best.blocks:
        m = deps.configs[b.deployment].model.id
        model_blocks[m] = model_blocks.get(m, 0) + 1
    seen: dict[str, int] = {}
    block_of: dict[int, tuple[assignment.Block, str, str, float, str]] = {}
    deployments: list[Record] = []
    for b in solution.best.blocks:
        c, price = deps.configs[b.deployment], deps.prices[b.deployment]
        seen[c.model.id] = seen.get(c.model.id, 0) + 1
        name = c.model.id if model_blocks[c.model.id] == 1 else f"{c.model.id}-{seen[c.model.id]}"
        url = self_hosted_base_url.replace("{model}", c.model.id).replace("{deployment}", name)
        loads = deps.load_units[b.level, list(b.workloads), b.deployment]
        rps = sum(workloads[i].rps for i in b.workloads)
        shares = [
            workloads[i].rps
            / (deps.capacity_rps[b.level, i, b.deployment] * ca.target_utilization)
            * (shape[i] if shape is not None else 1.0)
            for i in b.workloads
        ]
        replica_share = float(np.max(np.sum(shares, axis=0)))  # in the busiest hour
        replicas = max(ca.min_replicas, int(assignment.ceil_units(replica_share)))
        label = f"self-hosted {name}"
        for i, share in zip(b.workloads, loads / loads.sum(), strict=True):
            block_of[i] = (b, name, url, float(share), label)
        deployments.append(
            {
                "deployment": name,
                **config_record(c),
                "price_option": price.id,
                "provider": price.provider,
                "pricing": price.pricing,
                "usd_per_gpu_hour": price.usd_per_gpu_hour,
                "price_as_of": price.as_of.isoformat(),
                "workloads": [workloads[i].name for i in b.workloads],
                "requests_per_s": rps,
                "max_tpot_ms": float(tpot[b.level]),
                "replicas": replicas,
                "provisioning": "autoscaled" if granularity is not None else "fixed",
                "gpus_billed": b.units * float(deps.unit.gpus[b.deployment]),
                "load_of_planned_capacity": float(loads.sum()) / b.units,
                "self_hosted_usd_per_month": b.usd_per_month,
                "base_url": url,
                "license_allows_production": c.model.license_allows_production,
            }
        )

    # ------------------------------------------------------------------ workloads
    results: list[Record] = []
    gpu_total = solution.best.self_hosted_usd_per_month
    for i, w in enumerate(workloads):
        s = w.spec
        tokens = w.input_tokens + w.output_tokens
        cheapest = api_choice[i]
        record: Record = {
            "workload": w.name,
            "requests_per_s": w.rps,
            "input_tokens": w.input_tokens,
            "output_tokens": w.output_tokens,
            "privacy_sensitive": s.privacy_sensitive,
            "wants": s.model if s.model is not None else f"tier {s.quality_tier}+",
            "choice": None,
            "runs_on": None,
            "base_url": None,
            "model_name": None,
            "usd_per_month": None,
            "usd_per_mtok": None,
            "gpu_usd_per_month": None,
            "ops_usd_per_month": None,
            "deployment": None,
            "share_of_deployment": None,
            "model": None,
            "quant": None,
            "gpu": None,
            "gpus_per_replica": None,
            "price_option": None,
            "provider": None,
            "capacity_rps_per_replica": None,
            "concurrency_per_replica": None,
            "capacity_limit": None,
            "api": None,
            "api_provider": None,
            "api_price_as_of": None,
            "cheapest_api": None if cheapest is None or s.privacy_sensitive else cheapest.id,
            "cheapest_api_usd_per_month": None if s.privacy_sensitive else _number(api_usd[i]),
            "alone_self_hosted_usd_per_month": _number(alone[i] + ca.ops_usd_per_month),
            "switch_usd_per_month": _number(solution.switch_usd_per_month[i]),
        }
        if i in block_of:
            b, name, url, share, label = block_of[i]
            c, price = deps.configs[b.deployment], deps.prices[b.deployment]
            gpu_usd = b.usd_per_month * share
            # operations are paid once; each self-hosted workload carries it in proportion to its GPU cost
            ops_share = ca.ops_usd_per_month * (
                gpu_usd / gpu_total if gpu_total > 0 else 1.0 / len(solution.best.self_hosted)
            )
            record.update(
                {
                    "choice": "self-hosted",
                    "runs_on": label,
                    "base_url": url,
                    "model_name": c.model.id,
                    "usd_per_month": gpu_usd + ops_share,
                    "gpu_usd_per_month": gpu_usd,
                    "ops_usd_per_month": ops_share,
                    "deployment": name,
                    "share_of_deployment": share,
                    "model": c.model.id,
                    "quant": c.quant.id,
                    "gpu": c.gpu.id,
                    "gpus_per_replica": c.n_gpus,
                    "layout": c.layout,
                    "price_option": price.id,
                    "provider": price.provider,
                    "capacity_rps_per_replica": float(deps.capacity_rps[b.level, i, b.deployment]),
                    "concurrency_per_replica": int(deps.concurrency[b.level, i, b.deployment]),
                    "capacity_limit": LIMIT_WORDS[int(deps.limit[b.level, i, b.deployment])],
                }
            )
        else:
            api = api_choice[i]
            assert api is not None
            record.update(
                {
                    "choice": "api",
                    "runs_on": f"API {api.id}",
                    "base_url": api.base_url or None,
                    "model_name": request_model_name(api),
                    "usd_per_month": float(api_usd[i]),
                    "model": api.equivalent_model,
                    "api": api.id,
                    "api_provider": api.provider,
                    "api_price_as_of": api.as_of.isoformat(),
                }
            )
        record["usd_per_mtok"] = _number(
            cost.usd_per_mtok(record["usd_per_month"], w.rps, tokens, ca.hours_per_month)
        )
        results.append(record)

    # ------------------------------------------------------------------ totals
    best = solution.best
    privacy = [i for i, w in enumerate(workloads) if w.spec.privacy_sensitive]
    no_api = [i for i in range(k) if not np.isfinite(api_usd[i])]
    no_self = [i for i in range(k) if not can_self_host[i]]
    all_api_usd = _number(solution.all_api.total_usd_per_month)
    api_reason: str | None = None
    if no_api and any(i not in privacy for i in no_api):
        api_reason = (
            f"not possible: no allowed API for {_names(workloads, [i for i in no_api if i not in privacy])}"
        )
    elif privacy:
        api_reason = f"not allowed: {_names(workloads, privacy)} must be self-hosted (privacy-sensitive)"
    all_api_note = "allowed" if api_reason is None else api_reason
    if api_reason is not None and all_api_usd is not None:
        all_api_note += "; the figure is what the APIs would charge"
    all_self_usd = _number(solution.all_self_hosted.total_usd_per_month)
    self_reason = (
        None
        if not no_self
        else f"not possible: no deployment in the selection serves {_names(workloads, no_self)}"
    )
    all_self_note = "allowed" if self_reason is None else self_reason

    def saving(baseline: float | None) -> float | None:
        return None if baseline is None else baseline - best.total_usd_per_month

    totals = {
        "total_usd_per_month": best.total_usd_per_month,
        "api_usd_per_month": best.api_usd_per_month,
        "self_hosted_gpu_usd_per_month": best.self_hosted_usd_per_month,
        "ops_usd_per_month": best.ops_usd_per_month,
        "workloads_self_hosted": [workloads[i].name for i in best.self_hosted],
        "workloads_on_api": [w.name for i, w in enumerate(workloads) if i not in best.self_hosted],
        "deployments": len(best.blocks),
        "all_api_usd_per_month": all_api_usd,
        "all_api_feasible": all_api_note == "allowed",
        "all_api_note": all_api_note,
        "saving_vs_all_api_usd_per_month": saving(all_api_usd),
        "all_self_hosted_usd_per_month": all_self_usd,
        "all_self_hosted_feasible": not no_self,
        "all_self_hosted_note": all_self_note,
        "saving_vs_all_self_hosted_usd_per_month": saving(all_self_usd),
        "without_sharing_usd_per_month": _number(unshared.total_usd_per_month),
        "saving_from_sharing_usd_per_month": _number(unshared.total_usd_per_month - best.total_usd_per_month),
    }

    # ------------------------------------------------------------------ notes, assumptions
    notes = [THROUGHPUT_NOTE]
    for d in deployments:
        if not d["license_allows_production"]:
            model = next(c.model for c in deps.configs if c.model.id == d["model"])
            notes.append(
                f"{d['model']}: licence {model.license} does not allow production use without a separate agreement"
            )
    for i in no_self:
        w = workloads[i]
        if w.models:
            longest = max(m.max_context_tokens for m in w.models)
            why = (
                f"its context {w.context_tokens:,} exceeds its models' maximum {longest:,}"
                if w.context_tokens > longest
                else "no deployment in the selection serves it within its targets"
            )
            notes.append(f"{w.name}: {why}; API only")
    for r in results:
        if r["choice"] == "api" and r["base_url"] is None:
            notes.append(f"{r['workload']}: {r['api']} has no OpenAI-compatible base URL in the catalog")
    for w in workloads:  # APIs the file lists explicitly (candidates are filtered already)
        for a in w.apis:
            if not serves_context(a, w.context_tokens):
                notes.append(
                    f"{w.name}: {a.id} accepts at most {a.context_tokens:,} tokens, the workload needs "
                    f"{w.context_tokens:,}: it is priced as if it could serve it"
                )
    if shape is not None:
        notes.append(
            "workloads with a traffic_profile: each shared deployment's replicas follow the sum of its "
            "workloads' hourly rates, "
            + (
                f"autoscaled hour by hour in blocks of {billing_hours} h (gpus_billed is the mean over the hours)"
                if granularity is not None
                else "fixed for the busiest hour"
            )
            + "; APIs bill the mean rate (docs/plan.md)"
        )
    notes = _with_evidence(notes, deployments)
    used_configs = [deps.configs[b.deployment] for b in best.blocks]
    assumptions: dict[str, Any] = {
        "workloads_file": source,
        **scenario.assumptions(),
        "self_hosted_base_url": self_hosted_base_url,
        "workloads": [
            {
                **w.spec.model_dump(exclude={"apis", "description", "traffic_profile"}),
                **_profile_echo(w),
                "max_tpot_ms": w.max_tpot_ms,
                "max_ttft_ms": w.max_ttft_ms,
                "context_tokens": w.context_tokens,
                "models_considered": [m.id for m in w.models],
                "apis_considered": [a.id for a in w.apis],
                "api_usd_per_month": {a.id: usd for a, usd in api_all[i]},
            }
            for i, w in enumerate(workloads)
        ],
        "solver": {
            "method": "exact: every split of the self-hosted set into shared deployments",
            "workloads": k,
            "subsets": 1 << k,
            "deployments_considered": len(deps.configs),
            "capacity_pooling": CAPACITY_POOLING,
        },
        **(
            {
                "provisioning": provisioning,
                "billing_hours": billing_hours if granularity is not None else None,
            }
            if shape is not None
            else {}
        ),
        "catalog_entries": entry_provenance(used_configs),
        "apis": api_provenance(catalog, results),
    }
    return PlanReport(
        results=results,
        assumptions=assumptions,
        notes=notes,
        verdict=plan_verdict(totals, k, api_reason, self_reason),
        deployments=deployments,
        totals=totals,
    )


def _usd(x: float) -> str:
    return f"${x:,.0f}"


def _vs(label: str, baseline: float | None, saving: float | None, reason: str | None) -> str:
    """'Against all-API ($X) the plan saves $Y', or why that baseline is not an option."""
    if baseline is None or saving is None:
        return f"{label[0].upper()}{label[1:]}: {reason}."
    if abs(saving) < 0.5:
        verb = "costs the same"
    elif saving > 0:
        verb = f"saves {_usd(saving)}"
    else:
        verb = f"costs {_usd(-saving)} more"
    if reason is None:
        return f"Against {label} ({_usd(baseline)}) the plan {verb}."
    return f"{label[0].upper()}{label[1:]} would cost {_usd(baseline)} but is {reason}; the plan {verb}."


def plan_verdict(
    totals: dict[str, Any], n_workloads: int, api_reason: str | None, self_reason: str | None
) -> str:
    """One paragraph: what runs where, the monthly total, and the saving against both baselines.

    ``api_reason`` / ``self_reason`` say why all-API / all-self-hosted is not an option (None: it is).
    """
    hosted = totals["workloads_self_hosted"]
    n_dep = totals["deployments"]
    head = (
        f"Plan: {len(hosted)} of {n_workloads} workloads self-hosted on {n_dep} "
        f"deployment{'s' if n_dep != 1 else ''}, {n_workloads - len(hosted)} on APIs, "
        f"{_usd(totals['total_usd_per_month'])}/month"
    )
    if hosted:
        head += f" (operations {_usd(totals['ops_usd_per_month'])} included)"
    api = _vs(
        "all-API", totals["all_api_usd_per_month"], totals["saving_vs_all_api_usd_per_month"], api_reason
    )
    self_hosted = _vs(
        "all-self-hosted",
        totals["all_self_hosted_usd_per_month"],
        totals["saving_vs_all_self_hosted_usd_per_month"],
        self_reason,
    )
    return f"{head}. {api} {self_hosted}"
