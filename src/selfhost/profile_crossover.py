"""One call for "what does this traffic profile cost on this deployment, against this API, and
where is its crossover": the library function the crossover / cost / plan / report commands
use when they are given a profile.

`profile_crossover_record` takes a catalog deployment (a `ReplicaConfig` and one of its GPU's
price options), an API offering, the cost assumptions and a `TrafficProfile`; it sizes the
replica exactly as `selfhost crossover` does (`selfhost.analysis.deployment_grid`: capacity
within the latency targets, billing units), then prices the profile both ways with
`selfhost.engine.traffic_cost`: fixed provisioning for the peak hour, and hourly autoscaling
billed in blocks of ``billing_granularity_h``. The API is priced on the same requests at the
profile's mean tokens. A flat profile gives the numbers of `selfhost crossover --rps MEAN`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from selfhost.analysis import CROSSOVER_WORDS, deployment_grid
from selfhost.apis import api_prices, api_usd_per_request
from selfhost.catalog.schema import ApiOffering, Catalog
from selfhost.engine import crossover
from selfhost.engine import traffic_cost as tc
from selfhost.errors import InputError
from selfhost.question import Scenario
from selfhost.scenarios import ReplicaConfig, Workload
from selfhost.traffic_profile import TrafficProfile


def workload_for_profile(profile: TrafficProfile, base: Workload) -> Workload:
    """``base`` with the profile's mean input and output tokens (where the profile knows them),
    the context widened if one mean request would not fit it."""
    t = profile.tokens
    inp = round(t.input.mean) if t.input is not None else base.input_tokens
    out = max(1, round(t.output.mean)) if t.output is not None else base.output_tokens
    return dataclasses.replace(
        base, input_tokens=max(1, inp), output_tokens=out, context_tokens=max(base.context_tokens, inp + out)
    )


def _number(x: Any) -> float | None:
    value = float(x)
    return value if np.isfinite(value) else None


def _provisioning_record(p: tc.Provisioning) -> dict[str, Any]:
    return {
        "replicas_peak": _number(np.max(p.replicas_by_hour)),
        "replicas_mean": _number(np.mean(p.replicas_by_hour)),
        "gpu_hours_per_month": _number(p.gpu_hours_per_month),
        "usd_per_month": _number(p.usd_per_month),
        "idle_usd_per_month": _number(p.idle_usd_per_month),
        "idle_share": _number(p.idle_share),
    }


def _crossover_record(c: tc.ProfileCrossover) -> dict[str, Any]:
    why = int(c.reason)
    return {
        "multiple_of_mean": _number(c.multiple),
        "mean_rps": _number(c.mean_rps),
        "note": "crosses" if why == crossover.CROSSES else CROSSOVER_WORDS[why],
    }


def profile_crossover_record(
    catalog: Catalog,
    scenario: Scenario,
    config: ReplicaConfig,
    api: ApiOffering,
    profile: TrafficProfile,
    *,
    price_option: str | None = None,
    billing_granularity_h: int = 1,
) -> dict[str, Any]:
    """Fixed vs autoscaled self-hosting of ``profile`` on ``config``, the API on the same
    requests, and the crossover of each as a multiple of the profile's mean rate.

    The scenario sets the latency targets, context and cost assumptions; the tokens per
    request are the profile's where it records them (`workload_for_profile`). ``price_option``
    picks one of the GPU's price options (default: the cheapest per GPU-hour among the
    scenario's pricing kinds). Owned hardware is paid for
    whether it runs or not, so its autoscaled figures equal the fixed ones.

    Raises:
        InputError: the deployment does not fit or misses the latency targets, or the price
            option is not one of the GPU's.
    """
    ca = scenario.priced
    workload = workload_for_profile(profile, scenario.workload)
    grid = deployment_grid(catalog, scenario, configs=[config], workload=workload)
    if not len(grid):
        raise InputError(f"{config.label} does not fit or misses the latency targets for this workload")
    rows = [i for i in range(len(grid)) if price_option is None or grid.price(i).id == price_option]
    if not rows:
        ids = sorted({grid.price(i).id for i in range(len(grid))})
        raise InputError(f"price option '{price_option}' is not one of {config.gpu.id}'s: {', '.join(ids)}")
    row = min(rows, key=lambda i: grid.price(i).usd_per_gpu_hour)
    option = grid.price(row)
    unit = grid.unit_at(row)
    capacity = float(grid.capacity.point.requests_per_s[row])
    cached = profile.cached_input_fraction
    cached_fraction = cached if cached is not None else ca.cached_input_fraction
    per_request = float(
        api_usd_per_request(
            api_prices([api]), 1.0, workload.input_tokens, workload.output_tokens, cached_fraction
        )[0]
    )
    rates = np.asarray(profile.hourly_rps, dtype=float)
    n_hours = rates.size
    granularity = n_hours if option.pricing == "owned" else billing_granularity_h
    common = {
        "capacity_rps": capacity,
        "ops_usd_per_month": ca.ops_usd_per_month,
        "hours_per_month": ca.hours_per_month,
    }
    fixed = tc.fixed_provisioning(rates, unit, **common)
    scaled = tc.autoscaled_provisioning(rates, unit, billing_granularity_h=granularity, **common)
    api_monthly = float(tc.api_usd_per_month(rates, per_request, ca.hours_per_month))
    kwargs = {
        "ops_usd_per_month": ca.ops_usd_per_month,
        "usd_per_request": per_request,
        "hours_per_month": ca.hours_per_month,
    }
    fixed_cross = tc.profile_crossover(rates, unit, billing_granularity_h=None, **kwargs)
    scaled_cross = tc.profile_crossover(rates, unit, billing_granularity_h=granularity, **kwargs)
    flat = crossover.crossover_rps(unit, ca.ops_usd_per_month, per_request, ca.hours_per_month)
    notes = []
    if option.pricing == "owned":
        notes.append("owned hardware is paid for whether it runs or not: autoscaled = fixed")
    return {
        "model": config.model.id,
        "quant": config.quant.id,
        "gpu": config.gpu.id,
        "n_gpus": config.n_gpus,
        "engine": config.engine.id,
        "price_option": option.id,
        "usd_per_gpu_hour": option.usd_per_gpu_hour,
        "api": api.id,
        "capacity_rps_per_replica": capacity,
        "profile_shape": profile.shape,
        "profile_mean_rps": profile.mean_rps,
        "profile_peak_rps": profile.peak_rps,
        "billing_granularity_h": granularity,
        "input_tokens": workload.input_tokens,
        "output_tokens": workload.output_tokens,
        "cached_input_fraction": cached_fraction,
        "api_usd_per_request": per_request,
        "api_usd_per_month": api_monthly,
        "fixed": {
            **_provisioning_record(fixed),
            "cheaper": "self-hosted" if float(fixed.usd_per_month) < api_monthly else "api",
            "crossover": _crossover_record(fixed_cross),
        },
        "autoscaled": {
            **_provisioning_record(scaled),
            "cheaper": "self-hosted" if float(scaled.usd_per_month) < api_monthly else "api",
            "crossover": _crossover_record(scaled_cross),
        },
        "flat_crossover_rps": _number(flat.rps),
        "notes": notes,
    }
