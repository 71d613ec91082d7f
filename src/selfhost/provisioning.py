"""The self-hosted bill of a scenario's load: a sustained rate, or a traffic profile provisioned
fixed for its peak or autoscaled by the hour; and the crossover of that load against an API.

`self_hosted` prices every row of a `DeploymentGrid` at once; `crossover_of` solves one
deployment against its APIs. Without a profile they are `selfhost.engine.cost` and
`selfhost.engine.crossover` at the scenario's rate, unchanged. With one they are
`selfhost.engine.traffic_cost`: a flat profile gives the sustained-rate numbers exactly (the
engine computes a flat profile's mean, bill and crossover without rounding), a shaped one pays
for the peak (fixed) or for each hour's replicas in whole billing blocks (autoscaled). Owned
hardware is paid for whether it runs or not, so it is never autoscaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from selfhost.engine import cost, crossover

if TYPE_CHECKING:
    from selfhost.analysis import DeploymentGrid
    from selfhost.question import Scenario

FloatArray = NDArray[np.float64]

OWNED_NOTE = (
    "owned hardware is paid for whether it runs or not: it is priced fixed for the peak, not autoscaled"
)


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class SelfHostedBill:
    """The month of every grid row at the scenario's load, shape (n,).

    usd_per_month : GPU bill + operations. [USD/month]
    units_peak : Billing units in the busiest hour (the sustained rate's units). [count]
    replicas_peak, replicas_mean : Replicas in the busiest hour, and on average over the hours. [count]
    gpu_hours_per_month : GPU-hours billed. [GPU-h/month]
    idle_usd_per_month : Part of the GPU bill paying for capacity no request used (the headroom
        below the target utilization included). [USD/month]
    idle_share : ``idle_usd_per_month / usd_per_month``. [unitless]
    autoscaled : Whether the row was autoscaled (False for fixed provisioning and owned hardware).
    """

    usd_per_month: FloatArray
    units_peak: FloatArray
    replicas_peak: FloatArray
    replicas_mean: FloatArray
    gpu_hours_per_month: FloatArray
    idle_usd_per_month: FloatArray
    idle_share: FloatArray
    autoscaled: NDArray[np.bool_]


def self_hosted(grid: DeploymentGrid, scenario: Scenario) -> SelfHostedBill:
    """What self-hosting the scenario's load costs on each row of ``grid``."""
    ca, unit = scenario.priced, grid.unit
    capacity = grid.capacity.point.requests_per_s
    traffic = scenario.traffic
    n = len(grid)
    if traffic is None:
        rps = scenario.rate
        units = cost.units_needed(rps, unit)
        usd = cost.self_hosted_usd_per_month(rps, unit, ca.ops_usd_per_month)
        full = units * unit.replicas * capacity  # requests/s the units serve at 100 % utilization
        with np.errstate(divide="ignore", invalid="ignore"):
            used = np.where(full > 0, np.minimum(1.0, rps / np.where(full > 0, full, 1.0)), 0.0)
            idle = units * unit.usd_per_month * (1.0 - used)
            share = np.where(usd > 0, idle / np.where(usd > 0, usd, 1.0), 0.0)
        return SelfHostedBill(
            usd_per_month=usd,
            units_peak=units,
            replicas_peak=units * unit.replicas,
            replicas_mean=units * unit.replicas,
            gpu_hours_per_month=units * unit.gpus * ca.hours_per_month,
            idle_usd_per_month=np.asarray(idle, dtype=float),
            idle_share=np.asarray(share, dtype=float),
            autoscaled=np.zeros(n, dtype=bool),
        )
    from selfhost.engine import traffic_cost as tc  # a profile's arithmetic, imported for profiles only

    rates = np.asarray(traffic.hourly_rps, dtype=float)
    common: dict[str, Any] = {
        "capacity_rps": capacity,
        "ops_usd_per_month": ca.ops_usd_per_month,
        "hours_per_month": ca.hours_per_month,
    }
    bill = tc.fixed_provisioning(rates, unit, **common)  # the sustained bill at the peak, exactly
    scaled_rows = np.zeros(n, dtype=bool)
    if traffic.autoscaled:
        scaled_rows = np.array([grid.price(i).pricing != "owned" for i in range(n)], dtype=bool)
        scaled = tc.autoscaled_provisioning(
            rates, unit, billing_granularity_h=traffic.billing_hours, **common
        )
        bill = tc.Provisioning(
            **{
                name: np.where(
                    scaled_rows[(...,) + (None,) * (np.ndim(value) - 1)], getattr(scaled, name), value
                )
                for name, value in vars(bill).items()
            }
        )
    replicas = bill.replicas_by_hour.reshape(n, rates.size)
    return SelfHostedBill(
        usd_per_month=bill.usd_per_month,
        units_peak=bill.units_by_hour.reshape(n, rates.size).max(axis=-1, initial=0.0),
        replicas_peak=replicas.max(axis=-1, initial=0.0),
        replicas_mean=replicas.mean(axis=-1) if n else np.zeros(0),
        gpu_hours_per_month=bill.gpu_hours_per_month,
        idle_usd_per_month=bill.idle_usd_per_month,
        idle_share=bill.idle_share,
        autoscaled=scaled_rows,
    )


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class LoadCrossover:
    """The crossover of one deployment against each API, shape (n_apis,).

    rps : The (mean) request rate above which self-hosting stays cheaper; NaN where none. [requests/s]
    multiple_of_mean : With a profile, ``rps`` over the profile's mean rate; NaN without one. [unitless]
    reason : `selfhost.engine.crossover` reason code.
    """

    rps: FloatArray
    multiple_of_mean: FloatArray
    reason: NDArray[np.int8]


def crossover_of(
    unit: cost.BillingUnit,
    scenario: Scenario,
    usd_per_request: FloatArray,
    *,
    owned: bool = False,
) -> LoadCrossover:
    """The crossover of one deployment (``unit`` of scalars) against APIs priced ``usd_per_request``.

    Without a profile, the sustained rate of `crossover.crossover_rps`. With one, the whole
    profile scaled by k: the crossover is the smallest mean rate k x mean above which
    self-hosting it (fixed or autoscaled as the scenario says; ``owned`` hardware fixed) stays
    cheaper than the API on the same requests.
    """
    ca = scenario.priced
    traffic = scenario.traffic
    if traffic is None:
        flat = crossover.crossover_rps(unit, ca.ops_usd_per_month, usd_per_request, ca.hours_per_month)
        return LoadCrossover(
            rps=flat.rps, multiple_of_mean=np.full(flat.rps.shape, np.nan), reason=flat.reason
        )
    from selfhost.engine import traffic_cost as tc

    granularity = None if owned else traffic.billing_granularity_h
    solved = tc.profile_crossover(
        np.asarray(traffic.hourly_rps, dtype=float),
        unit,
        ops_usd_per_month=ca.ops_usd_per_month,
        usd_per_request=usd_per_request,
        hours_per_month=ca.hours_per_month,
        billing_granularity_h=granularity,
    )
    return LoadCrossover(rps=solved.mean_rps, multiple_of_mean=solved.multiple, reason=solved.reason)
