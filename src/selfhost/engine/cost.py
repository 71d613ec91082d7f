"""Monthly and per-token cost of self-hosting and of an API.

All arguments may be scalars or arrays broadcastable to one shape; results have that shape.
A typical call broadcasts deployments of shape (n_deployments, 1) against request rates of
shape (1, n_rps).

Billing model: a replica needs ``gpus_per_replica`` GPUs; GPUs are rented (or bought) in
instances of ``instance_gpus``. The smallest unit that holds whole replicas and whole instances
is ``lcm(gpus_per_replica, instance_gpus)`` GPUs: the *billing unit*. Costs step with the number
of billing units, which keeps the step function exact and the crossover closed-form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.units import SECONDS_PER_HOUR, TOKENS_PER_MTOK

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class BillingUnit:
    """How self-hosted capacity is bought. Arrays of the broadcast shape.

    gpus : GPUs in one billing unit, lcm(gpus per replica, instance GPUs). [count]
    replicas : Replicas one billing unit holds. [count]
    usd_per_month : Price of one billing unit for a month. [USD/month]
    rps : Requests/s one billing unit serves at the target utilization. [requests/s]
    min_units : Billing units needed for the minimum replica count. [count]
    """

    gpus: FloatArray
    replicas: FloatArray
    usd_per_month: FloatArray
    rps: FloatArray
    min_units: FloatArray


def billing_unit(
    *,
    capacity_rps: ArrayLike,
    target_utilization: ArrayLike,
    min_replicas: ArrayLike,
    gpus_per_replica: ArrayLike,
    instance_gpus: ArrayLike,
    usd_per_gpu_hour: ArrayLike,
    hours_per_month: ArrayLike,
) -> BillingUnit:
    """The billing unit of a deployment and what it costs and serves.

    Parameters
    ----------
    capacity_rps : Requests/s one replica sustains within its latency targets. [requests/s]
    target_utilization : Share of capacity you plan to use, leaving headroom for bursts. [unitless]
    min_replicas : Replicas kept running even at zero traffic (1 = always on; 2 = redundancy). [count]
    gpus_per_replica : Tensor-parallel size. [count]
    instance_gpus : GPUs per rentable instance or purchased machine. [count]
    usd_per_gpu_hour : Rental price, or owned cost turned into an hourly rate. [USD/h]
    hours_per_month : Billed hours in a month (730 = always on). [h]
    """
    n = np.asarray(gpus_per_replica, dtype=np.int64)
    k = np.asarray(instance_gpus, dtype=np.int64)
    unit_gpus = np.lcm(n, k).astype(float)
    replicas = unit_gpus / n
    usd = unit_gpus * np.asarray(usd_per_gpu_hour, dtype=float) * np.asarray(hours_per_month, dtype=float)
    rps = np.asarray(capacity_rps, dtype=float) * np.asarray(target_utilization, dtype=float) * replicas
    min_units = np.ceil(np.asarray(min_replicas, dtype=float) / replicas)
    return BillingUnit(
        gpus=np.asarray(unit_gpus, dtype=float),
        replicas=np.asarray(replicas, dtype=float),
        usd_per_month=np.asarray(usd, dtype=float),
        rps=np.asarray(rps, dtype=float),
        min_units=np.asarray(min_units, dtype=float),
    )


def units_needed(rps: ArrayLike, unit: BillingUnit) -> FloatArray:
    """Billing units needed to serve ``rps``: ``max(min_units, ceil(rps / unit.rps))``. [count]

    Infinite where a unit serves nothing (the model does not fit or misses its latency target).
    """
    r = np.asarray(rps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(unit.rps > 0, np.ceil(r / np.where(unit.rps > 0, unit.rps, 1.0)), np.inf)
    return np.asarray(np.maximum(unit.min_units, needed), dtype=float)


def replicas_needed(
    rps: ArrayLike, capacity_rps: ArrayLike, target_utilization: ArrayLike, min_replicas: ArrayLike
) -> FloatArray:
    """Replicas needed: ``max(min_replicas, ceil(rps / (capacity * target_utilization)))``. [count]"""
    per_replica = np.asarray(capacity_rps, dtype=float) * np.asarray(target_utilization, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(
            per_replica > 0,
            np.ceil(np.asarray(rps, dtype=float) / np.where(per_replica > 0, per_replica, 1.0)),
            np.inf,
        )
    return np.asarray(np.maximum(np.asarray(min_replicas, dtype=float), needed), dtype=float)


def self_hosted_usd_per_month(rps: ArrayLike, unit: BillingUnit, ops_usd_per_month: ArrayLike) -> FloatArray:
    """Monthly cost of self-hosting ``rps``: billing units x unit price + fixed operations. [USD/month]

    ``ops_usd_per_month`` is the fixed cost that does not scale with GPUs: an SRE/on-call share,
    monitoring, the serving stack's upkeep.
    """
    units = units_needed(rps, unit)
    return np.asarray(units * unit.usd_per_month + np.asarray(ops_usd_per_month, dtype=float), dtype=float)


def api_usd_per_request(
    *,
    input_tokens: ArrayLike,
    output_tokens: ArrayLike,
    usd_per_mtok_input: ArrayLike,
    usd_per_mtok_output: ArrayLike,
    cached_input_fraction: ArrayLike = 0.0,
    usd_per_mtok_cached_input: ArrayLike = 0.0,
) -> FloatArray:
    """API price of one request. [USD]

    ``(P * (1 - f) * p_in + P * f * p_cached + D * p_out) / 1e6`` with f the share of input
    tokens served from the provider's prompt cache.
    """
    p = np.asarray(input_tokens, dtype=float)
    f = np.asarray(cached_input_fraction, dtype=float)
    usd = (
        p * (1.0 - f) * np.asarray(usd_per_mtok_input, dtype=float)
        + p * f * np.asarray(usd_per_mtok_cached_input, dtype=float)
        + np.asarray(output_tokens, dtype=float) * np.asarray(usd_per_mtok_output, dtype=float)
    ) / TOKENS_PER_MTOK
    return np.asarray(usd, dtype=float)


def api_usd_per_month(rps: ArrayLike, usd_per_request: ArrayLike, hours_per_month: ArrayLike) -> FloatArray:
    """Monthly API bill at a sustained ``rps``: ``rps * 3600 * hours * usd_per_request``. [USD/month]"""
    seconds = np.asarray(hours_per_month, dtype=float) * SECONDS_PER_HOUR
    return np.asarray(
        np.asarray(rps, dtype=float) * seconds * np.asarray(usd_per_request, dtype=float),
        dtype=float,
    )


def usd_per_mtok(
    usd_per_month: ArrayLike,
    rps: ArrayLike,
    tokens_per_request: ArrayLike,
    hours_per_month: ArrayLike,
) -> FloatArray:
    """Cost per million tokens (input + output) served at ``rps``; NaN at zero traffic. [USD/1M tokens]"""
    tokens = (
        np.asarray(rps, dtype=float)
        * np.asarray(hours_per_month, dtype=float)
        * SECONDS_PER_HOUR
        * np.asarray(tokens_per_request, dtype=float)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(
            tokens > 0, np.asarray(usd_per_month, dtype=float) * TOKENS_PER_MTOK / tokens, np.nan
        )
    return np.asarray(value, dtype=float)


def owned_usd_per_gpu_hour(
    *,
    usd_per_gpu: ArrayLike,
    amortization_months: ArrayLike,
    watts_per_gpu: ArrayLike,
    usd_per_kwh: ArrayLike,
    pue: ArrayLike,
    hosting_usd_per_gpu_month: ArrayLike,
    hours_per_month: ArrayLike,
) -> FloatArray:
    """Owned hardware as an hourly rate: amortized purchase + power + hosting. [USD/h]

    ``price / (months * hours) + W / 1000 * PUE * USD/kWh + hosting / hours``. Power is charged for
    every billed hour: with ``hours_per_month`` below 730 the machine is assumed switched off
    for the rest, while the purchase is written off over calendar months either way.
    """
    hours = np.asarray(hours_per_month, dtype=float)
    capital = np.asarray(usd_per_gpu, dtype=float) / (np.asarray(amortization_months, dtype=float) * hours)
    power = (
        np.asarray(watts_per_gpu, dtype=float)
        / 1000.0
        * np.asarray(pue, dtype=float)
        * np.asarray(usd_per_kwh, dtype=float)
    )
    hosting = np.asarray(hosting_usd_per_gpu_month, dtype=float) / hours
    return np.asarray(capital + power + hosting, dtype=float)


def payback_months(setup_usd: ArrayLike, monthly_saving_usd: ArrayLike) -> FloatArray:
    """Months until a one-off setup cost is repaid by the monthly saving. [months]

    inf when self-hosting saves nothing (it never pays back), 0 when there is no setup cost and
    it does save.
    """
    saving = np.asarray(monthly_saving_usd, dtype=float)
    setup = np.asarray(setup_usd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        months = np.where(saving > 0, setup / np.where(saving > 0, saving, 1.0), np.inf)
    return np.asarray(np.where((setup <= 0) & (saving > 0), 0.0, months), dtype=float)
