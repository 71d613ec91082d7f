"""Assign workloads to APIs or shared self-hosted deployments at the least total monthly cost.

This is the optimizer behind `selfhost plan`. It knows nothing of the catalog: it takes, per
workload, the cost of its cheapest allowed API and the load it puts on each deployment, and
returns the cheapest feasible assignment, exactly.

Shapes: ``k`` workloads, ``n`` deployments (one replica config paid for with one price
option), ``n_v`` TPOT levels (the distinct time-per-output-token targets). Subsets of workloads
are bit masks: workload ``i`` is in mask ``m`` when ``m >> i & 1``.

Cost model
----------
A *block* is a set of workloads ``B`` served together by one deployment ``d``. They share its
replicas: each workload fills ``L[v(B), i, d]`` billing units, where ``v(B)`` is the smallest
TPOT target of the block's members (one continuous batch advances every sequence by one token
per step, so all of them see the same time per output token) and each workload keeps its own
TTFT target (its own prompt's prefill plus one shared step), so

    units(B, d) = max(m0_d, ceil(sum_{i in B} L[v(B), i, d]))        [count]
    cost(B, d)  = units(B, d) * V_d                                  [USD/month]

and the block costs ``g(B) = min_d cost(B, d)``. A plan picks a set ``T`` of self-hosted
workloads (every must-self-host workload included), splits ``T`` into blocks, and sends every
other workload to its cheapest API:

    total(T) = h(T) + F * [T non-empty] + sum_{i not in T} a_i
    h(T)     = min over partitions of T into blocks of sum g(B)

``F`` (operations) is paid once if anything is self-hosted: that fixed cost is what makes a
hybrid plan more than the per-workload choice.

Exactness
---------
``g`` is evaluated for every subset of every group of deployments that can serve the same
workloads, as one matrix product per group and TPOT level (subsets x workloads @ workloads
x deployments). ``h`` is the classic subset-partition recursion, ``h(T) = min over blocks B
containing the lowest workload of T of g(B) + h(T \\ B)``, ``3^k`` terms in total, each
``T`` one NumPy call. ``total`` is then evaluated for all ``2^k`` sets at once. This is
exact; it is also exponential, hence `MAX_WORKLOADS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Most workloads solved exactly: 3^14 = 4.8 million partition terms, a fraction of a second.
MAX_WORKLOADS = 14
#: Relative slack when rounding a pooled load up to whole billing units, so that a sum of
#: fractions that is an integer up to floating-point error does not buy one more unit. [unitless]
UNIT_ROUNDING_SLACK = 1e-9
#: Subset rows x deployments evaluated per matrix product (keeps each array near 16 MB).
_CHUNK_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class AssignmentProblem:
    """What the optimizer needs. Arrays; ``k`` workloads, ``n`` deployments, ``n_v`` TPOT levels.

    api_usd_per_month : Monthly bill of each workload on its cheapest allowed API; inf where no
        API is allowed. Shape (k,). [USD/month]
    load_units : Billing units of deployment ``d`` that workload ``i``'s traffic fills when its
        batch must meet TPOT level ``v`` (and its own TTFT target): ``rps_i / unit_rps[v, i, d]``;
        inf where the deployment cannot serve it (model not allowed, does not fit, misses the
        targets). Only levels at or below the workload's own TPOT target are read.
        Shape (n_v, k, n). [count]
    unit_usd_per_month : Price of one billing unit of each deployment. Shape (n,). [USD/month]
    unit_gpus : GPUs in one billing unit, for tie-breaks (fewer GPUs wins). Shape (n,). [count]
    min_units : Billing units every deployment keeps running. Shape (n,). [count]
    tpot_ms : Each workload's TPOT target. Shape (k,). [ms]
    tpot_levels_ms : The TPOT levels indexing ``load_units``; must contain every value of
        ``tpot_ms``. Shape (n_v,). [ms]
    must_self_host : Workloads that may not use an API (privacy-sensitive). Shape (k,).
    ops_usd_per_month : Fixed operations cost, paid once if anything is self-hosted. [USD/month]
    hourly_shape : Optional traffic shape: workload ``i``'s rate in profile hour ``h`` over its
        mean rate, shape (k, H) (H = 24 or 168; a flat workload is a row of ones). With it a
        block's load in hour h is ``sum_i L[v, i, d] * shape[i, h]``. None: sustained rates.
        [unitless]
    billing_granularity_h : With ``hourly_shape``: None buys the units of the busiest hour for
        the month (fixed provisioning); g autoscales, each hour paying its own units and each
        block of g hours the most of its hours, the month costing the mean over hours. [h]
    """

    api_usd_per_month: FloatArray
    load_units: FloatArray
    unit_usd_per_month: FloatArray
    unit_gpus: FloatArray
    min_units: FloatArray
    tpot_ms: FloatArray
    tpot_levels_ms: FloatArray
    must_self_host: BoolArray
    ops_usd_per_month: float
    hourly_shape: FloatArray | None = None
    billing_granularity_h: int | None = None

    def __post_init__(self) -> None:
        k = np.shape(self.api_usd_per_month)[0] if np.ndim(self.api_usd_per_month) == 1 else -1
        if k < 1:
            raise ValueError("api_usd_per_month must have shape (k,) with k >= 1 workloads")
        if k > MAX_WORKLOADS:
            raise ValueError(f"{k} workloads: the exact solver takes at most {MAX_WORKLOADS}")
        n_v = np.shape(self.tpot_levels_ms)[0] if np.ndim(self.tpot_levels_ms) == 1 else -1
        n = np.shape(self.unit_usd_per_month)[0] if np.ndim(self.unit_usd_per_month) == 1 else -1
        expected = {
            "load_units": (n_v, k, n),
            "unit_gpus": (n,),
            "min_units": (n,),
            "tpot_ms": (k,),
            "must_self_host": (k,),
        }
        for name, shape in expected.items():
            got = np.shape(getattr(self, name))
            if got != shape:
                raise ValueError(f"{name} has shape {got}; expected {shape} (n_v, k, n = {n_v}, {k}, {n})")
        if self.hourly_shape is not None:
            shape = np.shape(self.hourly_shape)
            if len(shape) != 2 or shape[0] != k or shape[1] not in (24, 168):
                raise ValueError(f"hourly_shape has shape {shape}; expected ({k}, 24 or 168)")
            g = self.billing_granularity_h
            if g is not None and (g < 1 or shape[1] % g):
                raise ValueError(f"billing_granularity_h {g} must divide the {shape[1]} profile hours")
        if not np.all(np.isin(self.tpot_ms, self.tpot_levels_ms)):
            raise ValueError("tpot_levels_ms must contain every workload's tpot_ms")

    @property
    def n_workloads(self) -> int:
        return int(np.shape(self.api_usd_per_month)[0])


@dataclass(frozen=True)
class Block:
    """Workloads that share one deployment's replicas.

    workloads : Workload indices, ascending.
    deployment : Deployment index.
    level : Index of the block's TPOT level (its strictest TPOT target), which sized the capacity.
    units : Billing units bought. [count]
    usd_per_month : ``units x`` unit price. [USD/month]
    """

    workloads: tuple[int, ...]
    deployment: int
    level: int
    units: float
    usd_per_month: float


@dataclass(frozen=True)
class Plan:
    """One assignment: which workloads are self-hosted, in which blocks; the rest on their API.

    total_usd_per_month is inf when the assignment is infeasible (then ``blocks`` is empty).
    """

    self_hosted: tuple[int, ...]
    blocks: tuple[Block, ...]
    api_usd_per_month: float
    self_hosted_usd_per_month: float
    ops_usd_per_month: float
    total_usd_per_month: float

    @property
    def feasible(self) -> bool:
        return bool(np.isfinite(self.total_usd_per_month))


@dataclass(frozen=True)
class Solution:
    """The cheapest plan and the two pure baselines.

    best : Cheapest feasible plan (``best.feasible`` is False when none exists).
    all_api : Every workload on its cheapest API, ignoring ``must_self_host`` (the bill privacy
        would otherwise allow); infeasible when some workload has no allowed API.
    all_self_hosted : Every workload self-hosted, blocks chosen optimally; infeasible when some
        workload has no deployment that serves it.
    switch_usd_per_month : Per workload, how much more the cheapest plan that sends it the other
        way (to its API if ``best`` self-hosts it, else self-hosted) costs than ``best``; inf where
        the other way is not allowed. Shape (k,). [USD/month]
    """

    best: Plan
    all_api: Plan
    all_self_hosted: Plan
    switch_usd_per_month: FloatArray


def _bits(k: int) -> BoolArray:
    """Membership table of every subset: shape (2^k, k), ``[m, i]`` = workload i in mask m."""
    masks = np.arange(1 << k, dtype=np.int64)
    return np.asarray((masks[:, None] >> np.arange(k, dtype=np.int64)) & 1, dtype=bool)


def ceil_units(load: ArrayLike) -> FloatArray:
    """Whole units for a pooled fractional load: ``ceil(load x (1 - UNIT_ROUNDING_SLACK))``. [count]"""
    return np.asarray(np.ceil(np.asarray(load, dtype=float) * (1.0 - UNIT_ROUNDING_SLACK)), dtype=float)


@dataclass(frozen=True)
class BlockTable:
    """The cheapest way to serve each subset of workloads as one block. Shape (2^k,) each.

    usd_per_month : g(B); inf where no single deployment serves every member. [USD/month]
    deployment : argmin deployment (-1 where inf).
    units : billing units bought at that deployment. [count]
    level : TPOT level index of the subset, its strictest target (-1 for the empty set).
    """

    usd_per_month: FloatArray
    deployment: IntArray
    units: FloatArray
    level: IntArray


def _block_units(
    problem: AssignmentProblem, member: FloatArray, load: FloatArray, min_units: FloatArray
) -> FloatArray:
    """Billing units (or, autoscaled, mean units over the hours) each subset buys on each
    deployment: member (nr, k) x load (k, nd) -> (nr, nd). [count]"""
    if problem.hourly_shape is None:
        return np.maximum(min_units[None, :], ceil_units(member @ load))
    shape = np.asarray(problem.hourly_shape, dtype=float)
    g = problem.billing_granularity_h
    weights = np.ones(shape.shape[1])
    if g is None or g == 1:  # hours with the same shape across workloads cost the same: once each
        shape, counts = np.unique(shape, axis=1, return_counts=True)
        weights = counts.astype(float)
    pooled = np.einsum("ri,ih,id->rhd", member, shape, load)  # (nr, hours, nd)
    per_hour = np.maximum(min_units[None, None, :], ceil_units(pooled))
    if g is None:
        return np.asarray(per_hour.max(axis=1), dtype=float)
    if g > 1:
        nr, n_hours, nd = per_hour.shape
        per_hour = per_hour.reshape(nr, n_hours // g, g, nd).max(axis=2)
        return np.asarray(per_hour.mean(axis=1), dtype=float)
    return np.asarray(np.tensordot(weights, per_hour, axes=([0], [1])) / weights.sum(), dtype=float)


def block_table(problem: AssignmentProblem, *, share: bool = True) -> BlockTable:
    """g(B) for every subset ``B`` of workloads (singletons only when ``share`` is False).

    Deployments are grouped by the set of workloads they can serve at each workload's own
    targets; only subsets of a group's set are evaluated against that group's deployments.
    A deployment that misses a workload's targets at its own TPOT misses them at any stricter
    level too (capacity never rises as a target tightens), so the grouping loses nothing.
    """
    k = problem.n_workloads
    size = 1 << k
    bits = _bits(k)
    masks = np.arange(size, dtype=np.int64)
    min_tpot = np.where(bits, problem.tpot_ms[None, :], np.inf).min(axis=1)
    level = np.full(size, -1, dtype=np.int64)
    for v, value in enumerate(problem.tpot_levels_ms):
        level[(min_tpot == value) & (level < 0)] = v
    own = np.array([level[1 << i] for i in range(k)], dtype=np.int64)  # each workload's own level
    servable = np.isfinite(problem.load_units[own, np.arange(k), :])  # (k, n)
    pattern = (servable.astype(np.int64) << np.arange(k, dtype=np.int64)[:, None]).sum(axis=0)
    singletons = (masks & (masks - 1)) == 0

    cost = np.full(size, np.inf)
    gpus = np.full(size, np.inf)
    deployment = np.full(size, -1, dtype=np.int64)
    units_out = np.full(size, np.nan)
    for group in np.unique(pattern[pattern > 0]):
        deps = np.flatnonzero(pattern == group)
        subsets = (masks & ~group) == 0
        subsets[0] = False
        if not share:
            subsets &= singletons
        for v in np.unique(level[subsets]):
            rows = np.flatnonzero(subsets & (level == v))
            load = problem.load_units[v][:, deps]  # (k, nd)
            finite = np.isfinite(load)
            load0 = np.where(finite, load, 0.0)
            price = problem.unit_usd_per_month[deps]
            hours = 1 if problem.hourly_shape is None else np.shape(problem.hourly_shape)[1]
            step = max(1, _CHUNK_ELEMENTS // max(1, len(deps) * hours))
            for start in range(0, len(rows), step):
                chunk = rows[start : start + step]
                member = bits[chunk].astype(float)
                missing = (member @ (~finite).astype(float)) > 0
                units = _block_units(problem, member, load0, problem.min_units[deps])
                usd = np.where(missing, np.inf, units * price[None, :])
                billed = units * problem.unit_gpus[deps][None, :]
                best_usd = usd.min(axis=1)
                # cheapest; on a tie, fewest GPUs billed
                pick = np.argmin(np.where(usd == best_usd[:, None], billed, np.inf), axis=1)
                r = np.arange(len(chunk))
                better = (best_usd < cost[chunk]) | (
                    (best_usd == cost[chunk]) & (billed[r, pick] < gpus[chunk])
                )
                better &= np.isfinite(best_usd)
                upd = chunk[better]
                cost[upd] = best_usd[better]
                gpus[upd] = billed[r, pick][better]
                deployment[upd] = deps[pick[better]]
                units_out[upd] = units[r, pick][better]
    return BlockTable(usd_per_month=cost, deployment=deployment, units=units_out, level=level)


def partition_costs(block_usd: FloatArray) -> tuple[FloatArray, IntArray]:
    """h(T) for every set T: the cheapest split of T into blocks, and the block holding T's lowest member.

    ``h(T) = min over B subset of T with lowest(T) in B of g(B) + h(T \\ B)``; ``h(0) = 0``.
    Among equal splits the larger first block wins (fewer deployments).
    """
    size = len(block_usd)
    k = size.bit_length() - 1
    h = np.full(size, np.inf)
    h[0] = 0.0
    first = np.zeros(size, dtype=np.int64)
    # submask tables per bit count: combos[j] has shape (2^j, j), rows in descending mask order
    combos = [
        np.asarray(((np.arange((1 << j) - 1, -1, -1)[:, None] >> np.arange(j)) & 1), dtype=np.int64)
        for j in range(k + 1)
    ]
    reachable = np.isfinite(block_usd)
    for t in range(1, size):
        low = t & -t
        if not reachable[low]:
            continue  # the lowest member cannot be self-hosted alone, nor in any block
        rest = t ^ low
        positions = [i for i in range(k) if rest >> i & 1]
        subs = combos[len(positions)] @ (np.int64(1) << np.array(positions, dtype=np.int64))
        blocks = subs | low
        values = block_usd[blocks] + h[rest ^ subs]
        j = int(np.argmin(values))
        h[t] = values[j]
        first[t] = blocks[j]
    return h, first


def _plan(problem: AssignmentProblem, table: BlockTable, first: IntArray, hosted_mask: int) -> Plan:
    """The plan that self-hosts ``hosted_mask`` (split as ``first`` says) and sends the rest to APIs."""
    k = problem.n_workloads
    blocks: list[Block] = []
    rest = hosted_mask
    while rest:
        b = int(first[rest])
        if b == 0 or not np.isfinite(table.usd_per_month[b]):
            return _infeasible(problem, hosted_mask)
        blocks.append(
            Block(
                workloads=tuple(i for i in range(k) if b >> i & 1),
                deployment=int(table.deployment[b]),
                level=int(table.level[b]),
                units=float(table.units[b]),
                usd_per_month=float(table.usd_per_month[b]),
            )
        )
        rest ^= b
    on_api = [i for i in range(k) if not hosted_mask >> i & 1]
    api = float(np.sum(problem.api_usd_per_month[on_api])) if on_api else 0.0
    self_usd = float(sum(b.usd_per_month for b in blocks))
    ops = problem.ops_usd_per_month if hosted_mask else 0.0
    return Plan(
        self_hosted=tuple(i for i in range(k) if hosted_mask >> i & 1),
        blocks=tuple(blocks),
        api_usd_per_month=api,
        self_hosted_usd_per_month=self_usd,
        ops_usd_per_month=ops,
        total_usd_per_month=api + self_usd + ops,
    )


def _infeasible(problem: AssignmentProblem, hosted_mask: int) -> Plan:
    k = problem.n_workloads
    return Plan(
        self_hosted=tuple(i for i in range(k) if hosted_mask >> i & 1),
        blocks=(),
        api_usd_per_month=np.inf,
        self_hosted_usd_per_month=np.inf,
        ops_usd_per_month=problem.ops_usd_per_month if hosted_mask else 0.0,
        total_usd_per_month=np.inf,
    )


def solve(problem: AssignmentProblem, *, share: bool = True) -> Solution:
    """The cheapest assignment, exactly, and the all-API and all-self-hosted baselines.

    ``share=False`` forbids pooling (every self-hosted workload gets its own deployment); it
    exists to show what sharing saves.

    Notes
    -----
    ``total(T) = h(T) + F [T != 0] + sum_{i not in T} a_i`` over all ``2^k`` sets ``T`` that
    contain every must-self-host workload; the minimum wins, ties going to fewer self-hosted
    workloads (less to operate), then to the smaller mask.
    """
    k = problem.n_workloads
    size = 1 << k
    table = block_table(problem, share=share)
    h, first = partition_costs(table.usd_per_month)
    bits = _bits(k)
    masks = np.arange(size, dtype=np.int64)
    api = np.where(bits, 0.0, problem.api_usd_per_month[None, :]).sum(axis=1)
    total = h + api + np.where(masks > 0, problem.ops_usd_per_month, 0.0)
    must = int(np.sum(problem.must_self_host.astype(np.int64) << np.arange(k, dtype=np.int64)))
    total = np.where((masks & must) == must, total, np.inf)
    count = bits.sum(axis=1)
    order = np.lexsort((masks, count, total))
    best_mask = int(order[0])
    best = (
        _plan(problem, table, first, best_mask)
        if np.isfinite(total[best_mask])
        else _infeasible(problem, best_mask)
    )
    all_api = _plan(problem, table, first, 0)
    full = size - 1
    all_self = _plan(problem, table, first, full) if np.isfinite(h[full]) else _infeasible(problem, full)
    hosted = bits[best_mask]
    other_way = np.where(bits != hosted[None, :], total[:, None], np.inf).min(axis=0)
    with np.errstate(invalid="ignore"):  # inf - inf where no plan exists at all
        switch = np.where(np.isfinite(other_way), other_way - total[best_mask], np.inf)
    return Solution(best=best, all_api=all_api, all_self_hosted=all_self, switch_usd_per_month=switch)
