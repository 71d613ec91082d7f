"""Monthly cost of a traffic profile: fixed provisioning for the peak versus hourly autoscaling,
the API on the same requests, and the crossover as a multiple of the profile's mean rate.

A profile is H hourly mean request rates (H = 24 for a typical day, 168 for a week) that
repeat through the month; each profile hour stands for ``hours_per_month / H`` hours of it.
Capacity is bought in billing units exactly as in `selfhost.engine.cost` (a unit holds
``lcm(gpus_per_replica, instance_gpus)`` GPUs; ``min_replicas`` becomes ``min_units``), so a
flat profile reproduces `cost.self_hosted_usd_per_month` and `crossover.crossover_rps` exactly.

Shapes: the deployment arguments (capacity, utilization, replicas, prices, ops cost, price per
request) broadcast to one shape S; ``rates_rps`` has shape (H,) or S + (H,); per-hour results
have shape S + (H,) and monthly totals shape S. ``billing_granularity_h`` is one integer that
divides H.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.engine import cost
from selfhost.engine.crossover import API_CHEAPER_AT_SCALE, API_FREE, CROSSES, NO_CAPACITY, crossover_rps
from selfhost.units import SECONDS_PER_HOUR

FloatArray = NDArray[np.float64]
PROFILE_HOURS = (24, 168)
#: Most step boundaries the exact crossover walks before giving up (the margin is then ~0).
MAX_STEPS = 10_000_000
_CHUNK_CELLS = 4_000_000  # intervals x rate groups evaluated at once in the crossover walk


def _rates(rates_rps: ArrayLike) -> FloatArray:
    r = np.asarray(rates_rps, dtype=float)
    if r.ndim == 0 or r.shape[-1] not in PROFILE_HOURS:
        raise ValueError(f"rates_rps must end in an axis of 24 or 168 hours, got shape {r.shape}")
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("rates_rps must be finite and non-negative")
    return r


def _check_granularity(billing_granularity_h: int, n_hours: int) -> int:
    g = int(billing_granularity_h)
    if g != billing_granularity_h or g < 1 or n_hours % g:
        raise ValueError(
            f"billing_granularity_h must be a whole number of hours dividing {n_hours}, got {billing_granularity_h}"
        )
    return g


def profile_mean(rates_rps: ArrayLike) -> FloatArray:
    """Mean rate over the hours axis, shape S. A flat profile's mean is its rate, exactly
    (no summation rounding), so a flat profile prices as `selfhost.engine.cost` does. [requests/s]"""
    r = _rates(rates_rps)
    flat = np.all(r == r[..., :1], axis=-1)
    return np.asarray(np.where(flat, r[..., 0], r.mean(axis=-1)), dtype=float)


def _expand(x: ArrayLike) -> FloatArray:
    """A deployment argument of shape S as S + (1,), to broadcast against the hours axis."""
    return np.asarray(x, dtype=float)[..., np.newaxis]


def block_max(values: ArrayLike, billing_granularity_h: int) -> FloatArray:
    """Each hour's value replaced by the largest in its billing block of ``g`` hours. Shape kept.

    Blocks start at profile hour 0 (Monday 00:00 for a week); a unit started in a block is paid
    for the whole block, so it runs as many units as the block's busiest hour needs.
    """
    v = np.asarray(values, dtype=float)
    g = _check_granularity(billing_granularity_h, v.shape[-1])
    blocks = v.reshape((*v.shape[:-1], v.shape[-1] // g, g)).max(axis=-1)
    return np.asarray(np.repeat(blocks, g, axis=-1), dtype=float)


@dataclass(frozen=True)
class Provisioning:
    """What a way of provisioning costs over a month.

    units_by_hour : Billing units paid for in each profile hour, shape S + (H,). [count]
    replicas_by_hour : Replicas those units hold, shape S + (H,). [count]
    gpu_hours_per_month : GPU-hours billed, shape S. [GPU-h/month]
    gpu_usd_per_month : The GPU bill, shape S. [USD/month]
    usd_per_month : GPU bill + fixed operations cost, shape S. [USD/month]
    idle_usd_per_month : Part of the GPU bill paying for capacity no request used (headroom
        below the target utilization included), shape S. [USD/month]
    idle_share : ``idle_usd_per_month / usd_per_month``: the share of the self-hosted bill that
        is idle capacity, shape S. [unitless]
    """

    units_by_hour: FloatArray
    replicas_by_hour: FloatArray
    gpu_hours_per_month: FloatArray
    gpu_usd_per_month: FloatArray
    usd_per_month: FloatArray
    idle_usd_per_month: FloatArray
    idle_share: FloatArray


def _provisioning(
    units_by_hour: FloatArray,
    rates: FloatArray,
    unit: cost.BillingUnit,
    capacity_rps: ArrayLike,
    ops_usd_per_month: ArrayLike,
    hours_per_month: ArrayLike,
) -> Provisioning:
    n = rates.shape[-1]
    hour_share = _expand(hours_per_month) / n  # month hours one profile hour stands for [h]
    unit_usd_per_hour = _expand(unit.usd_per_month) / _expand(hours_per_month)  # [USD/h]
    # mean units x the unit's month: sum_h u_h V (hours/H) / hours; exact for a constant count
    mean_units = np.mean(units_by_hour, axis=-1)
    gpu_usd = mean_units * np.asarray(unit.usd_per_month, dtype=float)
    gpu_hours = mean_units * np.asarray(unit.gpus, dtype=float) * np.asarray(hours_per_month, dtype=float)
    full_rps = units_by_hour * _expand(unit.replicas) * _expand(capacity_rps)  # at 100 % utilization
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(full_rps > 0, np.minimum(1.0, rates / np.where(full_rps > 0, full_rps, 1.0)), 0.0)
        idle = np.sum(units_by_hour * (1.0 - used) * unit_usd_per_hour * hour_share, axis=-1)
        total = gpu_usd + np.asarray(ops_usd_per_month, dtype=float)
        share = np.where(total > 0, idle / np.where(total > 0, total, 1.0), 0.0)
    return Provisioning(
        units_by_hour=np.asarray(units_by_hour, dtype=float),
        replicas_by_hour=np.asarray(units_by_hour * _expand(unit.replicas), dtype=float),
        gpu_hours_per_month=np.asarray(gpu_hours, dtype=float),
        gpu_usd_per_month=np.asarray(gpu_usd, dtype=float),
        usd_per_month=np.asarray(total, dtype=float),
        idle_usd_per_month=np.asarray(idle, dtype=float),
        idle_share=np.asarray(share, dtype=float),
    )


def units_by_hour(rates_rps: ArrayLike, unit: cost.BillingUnit) -> FloatArray:
    """Billing units each hour needs on its own: ``max(min_units, ceil(rate / unit.rps))``,
    shape S + (H,); infinite where a unit serves nothing. [count]"""
    r = _rates(rates_rps)
    expanded = cost.BillingUnit(
        gpus=_expand(unit.gpus),
        replicas=_expand(unit.replicas),
        usd_per_month=_expand(unit.usd_per_month),
        rps=_expand(unit.rps),
        min_units=_expand(unit.min_units),
    )
    return cost.units_needed(r, expanded)


def fixed_provisioning(
    rates_rps: ArrayLike,
    unit: cost.BillingUnit,
    *,
    capacity_rps: ArrayLike,
    ops_usd_per_month: ArrayLike,
    hours_per_month: ArrayLike,
) -> Provisioning:
    """Enough units for the profile's peak hour, running all month.

    ``units = max(min_units, ceil(max_h rate_h / unit.rps))`` every hour; the bill is
    ``F + units * unit.usd_per_month``, as `cost.self_hosted_usd_per_month` at the peak rate.
    ``capacity_rps`` is one replica's capacity (for the idle share). [requests/s]
    """
    r = _rates(rates_rps)
    per_hour = units_by_hour(r, unit)
    peak_units = np.max(per_hour, axis=-1, keepdims=True)
    return _provisioning(
        np.broadcast_to(peak_units, per_hour.shape).astype(float),
        r,
        unit,
        capacity_rps,
        ops_usd_per_month,
        hours_per_month,
    )


def autoscaled_provisioning(
    rates_rps: ArrayLike,
    unit: cost.BillingUnit,
    *,
    capacity_rps: ArrayLike,
    ops_usd_per_month: ArrayLike,
    hours_per_month: ArrayLike,
    billing_granularity_h: int = 1,
) -> Provisioning:
    """Units scaled hour by hour, each paid for in whole blocks of ``billing_granularity_h``.

    Hour h runs ``max(min_units, ceil(rate_h / unit.rps))`` units; within a billing block every
    hour pays for the block's largest count (`block_max`). ``billing_granularity_h = H`` is fixed
    provisioning. Scaling is assumed instant at the hour boundary (no warm-up).
    """
    r = _rates(rates_rps)
    billed = block_max(units_by_hour(r, unit), billing_granularity_h)
    return _provisioning(billed, r, unit, capacity_rps, ops_usd_per_month, hours_per_month)


def api_usd_by_hour(
    rates_rps: ArrayLike, usd_per_request: ArrayLike, hours_per_month: ArrayLike
) -> FloatArray:
    """API bill of each profile hour over the month: ``rate_h * 3600 * (hours / H) * price``,
    shape S + (H,). ``usd_per_request`` (shape S) is the price of one request. [USD/month]"""
    r = _rates(rates_rps)
    price = _expand(usd_per_request)
    hour_share = _expand(hours_per_month) / r.shape[-1]
    return np.asarray(r * SECONDS_PER_HOUR * hour_share * price, dtype=float)


def api_usd_per_month(
    rates_rps: ArrayLike, usd_per_request: ArrayLike, hours_per_month: ArrayLike
) -> FloatArray:
    """The month's API bill on the profile's requests, shape S: the bill of a flat load at the
    profile's mean rate (`cost.api_usd_per_month`), which is the sum of `api_usd_by_hour`. [USD/month]"""
    return cost.api_usd_per_month(profile_mean(rates_rps), usd_per_request, hours_per_month)


@dataclass(frozen=True)
class ProfileCosts:
    """Fixed and autoscaled provisioning and the API, for one profile. Shapes as documented."""

    fixed: Provisioning
    autoscaled: Provisioning
    api_usd_per_month: FloatArray


def profile_costs(
    rates_rps: ArrayLike,
    unit: cost.BillingUnit,
    *,
    capacity_rps: ArrayLike,
    usd_per_request: ArrayLike,
    ops_usd_per_month: ArrayLike = 0.0,
    hours_per_month: ArrayLike = 730.0,
    billing_granularity_h: int = 1,
) -> ProfileCosts:
    """The month of a profile, self-hosted both ways and on the API.

    ``rates_rps``: each profile hour's mean request rate, shape (H,) or S + (H,) [requests/s];
    ``unit``: the deployments' `cost.billing_unit`, priced for ``hours_per_month``;
    ``usd_per_request``: the API price of one request [USD]; the other arguments as
    `autoscaled_provisioning` takes them.
    """
    shared: dict[str, Any] = {
        "capacity_rps": np.asarray(capacity_rps, dtype=float),
        "ops_usd_per_month": ops_usd_per_month,
        "hours_per_month": hours_per_month,
    }
    return ProfileCosts(
        fixed=fixed_provisioning(rates_rps, unit, **shared),
        autoscaled=autoscaled_provisioning(
            rates_rps, unit, **shared, billing_granularity_h=billing_granularity_h
        ),
        api_usd_per_month=api_usd_per_month(rates_rps, usd_per_request, hours_per_month),
    )


# --------------------------------------------------------------------------- crossover


@dataclass(frozen=True)
class ProfileCrossover:
    """Crossover of a profile scaled as a whole, per element of S. NaN where ``reason != CROSSES``.

    multiple : Smallest k such that, for every scale above it, self-hosting ``k x rates`` is
        cheaper than the API; in multiples of the profile as given. [unitless]
    mean_rps : ``multiple x`` the profile's mean rate: the crossover as a mean request rate. [requests/s]
    reason : `selfhost.engine.crossover` code (CROSSES, NO_CAPACITY, API_CHEAPER_AT_SCALE, API_FREE).
    """

    multiple: FloatArray
    mean_rps: FloatArray
    reason: NDArray[np.int8]


def step_crossover(
    block_rates: FloatArray,
    block_usd_per_month: FloatArray,
    min_units: float,
    unit_rps: float,
    ops_usd_per_month: float,
    api_usd_per_month_at_1: float,
) -> tuple[float, int]:
    """Exact crossover of ``S(k) = F + sum_b w_b max(m0, ceil(k R_b / q))`` against ``A k``.

    Parameters (one deployment): ``block_rates`` R_b [requests/s] and ``block_usd_per_month``
    w_b [USD/month per unit], shape (n_blocks,); ``min_units`` m0; ``unit_rps`` q
    [requests/s]; ``ops_usd_per_month`` F; ``api_usd_per_month_at_1`` A, the API bill at k = 1.
    Returns (k*, reason).

    Notes
    -----
    With slope ``s = sum_b w_b R_b / q``: S(k) >= F + s k, and S(k) <= F + W max(m0, 1) + s k
    (W = sum_b w_b). If A <= s the API is cheaper at scale. Otherwise every k <= F / (A - s) is
    not cheaper and every k > (F + W max(m0, 1)) / (A - s) is; between the two, S is a step
    function whose steps start at k = n q / R_b (n >= m0). On a step (e_i, e_{i+1}] of cost S_i,
    the points not cheaper are (e_i, min(e_{i+1}, S_i / A)]; k* is the largest such end.
    Tested against a brute-force scan, and against `crossover_rps` for one block.
    """
    q, a, f, m0 = float(unit_rps), float(api_usd_per_month_at_1), float(ops_usd_per_month), float(min_units)
    rates = np.asarray(block_rates, dtype=float)
    weights = np.asarray(block_usd_per_month, dtype=float)
    if not q > 0 or not np.isfinite(q):
        return float("nan"), NO_CAPACITY
    if not a > 0:
        return float("nan"), API_FREE
    keep = weights > 0
    rates, weights = rates[keep], weights[keep]
    # blocks with the same busiest rate step together
    values, inverse = np.unique(rates, return_inverse=True)
    group_w = np.bincount(inverse, weights=weights, minlength=values.size)
    slope = float(np.sum(group_w * values) / q)
    if not a > slope:
        return float("nan"), API_CHEAPER_AT_SCALE
    total_w = float(group_w.sum())
    k_lo = f / (a - slope)
    k_hi = (f + total_w * max(m0, 1.0)) / (a - slope)
    moving = values > 0
    counts = np.where(moving, np.ceil(k_hi * values / q) - np.maximum(m0, np.floor(k_lo * values / q)) + 1, 0)
    if float(counts.sum()) > MAX_STEPS:
        raise ValueError(
            f"the self-hosted and API costs per request are too close to solve exactly ({counts.sum():.3g} steps)"
        )
    points = [np.array([k_lo, k_hi])]
    for rate in values[moving]:
        n0 = max(m0, np.floor(k_lo * rate / q))
        n1 = np.ceil(k_hi * rate / q)
        n = np.arange(n0, n1 + 1.0)
        k = n * q / rate
        points.append(k[(k > k_lo) & (k < k_hi)])
    edges = np.unique(np.concatenate(points))
    best = k_lo
    chunk = max(1_000, _CHUNK_CELLS // values.size)
    for start in range(0, edges.size - 1, chunk):
        lo = edges[start : start + chunk]
        hi = edges[start + 1 : start + 1 + chunk]
        lo = lo[: hi.size]
        mid = (lo + hi) / 2.0
        units = np.maximum(m0, np.ceil(mid[:, None] * values[None, :] / q))
        s = f + units @ group_w
        end = np.minimum(hi, s / a)
        valid = s / a > lo
        if valid.any():
            best = max(best, float(end[valid].max()))
    return best, CROSSES


def profile_crossover(
    rates_rps: ArrayLike,
    unit: cost.BillingUnit,
    *,
    ops_usd_per_month: ArrayLike,
    usd_per_request: ArrayLike,
    hours_per_month: ArrayLike,
    billing_granularity_h: int | None = None,
) -> ProfileCrossover:
    """The scale of the whole profile above which self-hosting it stays cheaper than the API.

    ``billing_granularity_h`` None: fixed provisioning for the peak, solved in closed form by
    `crossover_rps` at the peak rate with the API priced per request/s of peak
    (``usd_per_request x mean / peak``); an integer: hourly autoscaling billed in blocks of that
    many hours (`step_crossover`, exact). A profile whose billing blocks all have the same
    busiest rate pays the same units every block, so it is the fixed case and is solved so
    (a flat profile thus gives `crossover_rps` exactly, either way). Elements of S are solved
    one by one; each solve is vectorised over its steps.
    """
    r = _rates(rates_rps)
    n = r.shape[-1]
    shape = np.broadcast_shapes(
        r.shape[:-1],
        np.shape(unit.rps),
        np.shape(unit.usd_per_month),
        np.shape(unit.min_units),
        np.shape(ops_usd_per_month),
        np.shape(usd_per_request),
        np.shape(hours_per_month),
    )
    rates = np.broadcast_to(r, (*shape, n))
    api_at_1 = np.broadcast_to(api_usd_per_month(rates, usd_per_request, hours_per_month), shape)
    mean = profile_mean(rates)
    q = np.broadcast_to(unit.rps, shape)
    v = np.broadcast_to(unit.usd_per_month, shape)
    m0 = np.broadcast_to(unit.min_units, shape)
    f = np.broadcast_to(np.asarray(ops_usd_per_month, dtype=float), shape)
    hours = np.broadcast_to(np.asarray(hours_per_month, dtype=float), shape)
    price = np.broadcast_to(np.asarray(usd_per_request, dtype=float), shape)
    peak = rates.max(axis=-1)
    safe_peak = np.where(peak > 0, peak, 1.0)
    mean_over_peak = mean / safe_peak  # 1.0 exactly for a flat profile
    peak_unit = cost.BillingUnit(
        gpus=np.broadcast_to(unit.gpus, shape),
        replicas=np.broadcast_to(unit.replicas, shape),
        usd_per_month=v,
        rps=q,
        min_units=m0,
    )
    flat = crossover_rps(peak_unit, f, price * mean_over_peak, hours)
    peak_rps = np.where(flat.reason == CROSSES, flat.rps, np.nan)  # the crossover as a peak rate
    multiple = peak_rps / safe_peak
    mean_rps = peak_rps * mean_over_peak
    reason = np.array(flat.reason, dtype=np.int8)
    if billing_granularity_h is not None:
        g = _check_granularity(billing_granularity_h, n)
        multiple, mean_rps = np.array(multiple, dtype=float), np.array(mean_rps, dtype=float)
        for index in np.ndindex(*shape):
            blocks = rates[index].reshape(n // g, g).max(axis=-1)
            if np.all(blocks == blocks[0]):
                continue  # every block pays the peak's units: the fixed case above
            w = v[index] * g / n  # one unit for one block of g profile hours [USD/month]
            k, why = step_crossover(
                blocks, np.full(blocks.size, w), m0[index], q[index], f[index], api_at_1[index]
            )
            multiple[index], reason[index] = k, why
            mean_rps[index] = k * mean[index]
    return ProfileCrossover(
        multiple=np.asarray(multiple, dtype=float),
        mean_rps=np.asarray(mean_rps, dtype=float),
        reason=np.asarray(reason, dtype=np.int8),
    )
