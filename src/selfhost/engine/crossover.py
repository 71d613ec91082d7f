"""The exact request rate above which self-hosting stays cheaper than an API.

All arguments may be scalars or arrays broadcastable to one shape; a typical call broadcasts
deployments of shape (n_deployments, 1) against APIs of shape (1, n_apis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.engine.cost import BillingUnit
from selfhost.units import SECONDS_PER_HOUR

FloatArray = NDArray[np.float64]

# Reason codes for the crossover.
CROSSES = 0  # a finite crossover exists
NO_CAPACITY = 1  # the deployment serves nothing (does not fit, or misses latency targets)
API_CHEAPER_AT_SCALE = 2  # at full utilization a billing unit costs more than the API traffic it serves
API_FREE = 3  # the API costs nothing per request


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class Crossover:
    """Crossover per element. rps is NaN where ``reason != CROSSES``.

    rps : Smallest request rate above which self-hosting is always cheaper. [requests/s]
    reason : CROSSES or why there is none. [code]
    """

    rps: FloatArray
    reason: NDArray[np.int8]


def crossover_rps(
    unit: BillingUnit,
    ops_usd_per_month: ArrayLike,
    api_usd_per_request: ArrayLike,
    hours_per_month: ArrayLike,
) -> Crossover:
    """Solve self-hosted(r) < API(r) for all r above the crossover, exactly.

    Notes
    -----
    With ``a`` the API cost per request/s per month, ``q`` the requests/s a billing unit serves,
    ``V`` its monthly price, ``F`` the fixed operations cost and ``m0`` the minimum units,
    self-hosting costs ``F + V * max(m0, ceil(r / q))`` and the API ``a * r``.

    On the m-th step, ``((m-1) q, m q]``, self-hosting is not cheaper where
    ``a r <= F + V m``. A step has such points iff ``a (m-1) q < F + V m``, i.e.
    ``m (a q - V) < F + a q``. If ``a q <= V`` this holds for every m: the API is cheaper at
    scale and there is no crossover. Otherwise the last such step is
    ``m* = ceil((F + a q) / (a q - V)) - 1`` and the crossover is
    ``min(m* q, (F + V m*) / a)``. Steps up to ``m0`` form one flat step of cost
    ``F + V m0`` ending at ``m0 q``, which is the answer when ``m* <= m0``.

    Tested against a brute-force scan of both cost curves.
    """
    a = (
        np.asarray(api_usd_per_request, dtype=float)
        * np.asarray(hours_per_month, dtype=float)
        * SECONDS_PER_HOUR
    )
    f = np.asarray(ops_usd_per_month, dtype=float)
    q = unit.rps
    v = unit.usd_per_month
    m0 = unit.min_units
    shape = np.broadcast_shapes(a.shape, f.shape, q.shape, v.shape, m0.shape)
    a, f, q, v, m0 = (np.broadcast_to(x, shape) for x in (a, f, q, v, m0))

    no_capacity = ~(q > 0)
    api_free = ~(a > 0)
    margin = a * q - v
    api_cheaper = ~(margin > 0)
    valid = ~(no_capacity | api_free | api_cheaper)

    safe_margin = np.where(valid, margin, 1.0)
    safe_a = np.where(valid, a, 1.0)
    m_star = np.ceil((f + a * q) / safe_margin) - 1.0
    on_steps = np.minimum(m_star * q, (f + v * m_star) / safe_a)
    on_flat = np.minimum(m0 * q, (f + v * m0) / safe_a)
    rps = np.where(m_star > m0, on_steps, on_flat)

    reason = np.where(
        no_capacity,
        NO_CAPACITY,
        np.where(api_free, API_FREE, np.where(api_cheaper, API_CHEAPER_AT_SCALE, CROSSES)),
    ).astype(np.int8)
    return Crossover(rps=np.asarray(np.where(valid, rps, np.nan), dtype=float), reason=reason)


class Scratch:
    """Work arrays for `crossover_rps_into`, reused across calls of up to ``size`` elements."""

    def __init__(self, size: int) -> None:
        self.floats = [np.empty(size) for _ in range(3)]

    def take(self, n: int) -> list[FloatArray]:
        """The first ``n`` elements of each work array."""
        return [f[:n] for f in self.floats]


def crossover_rps_into(
    unit_rps: FloatArray,
    unit_usd_per_month: FloatArray,
    min_units: float,
    ops_usd_per_month: float,
    api_usd_per_request: FloatArray,
    hours_per_month: float,
    out: FloatArray,
    scratch: Scratch,
) -> FloatArray:
    """`crossover_rps(...).rps` for one-dimensional samples, +inf where there is no crossover.

    Where a crossover exists, the same floating-point operations in the same order as
    `crossover_rps` (so the same numbers, bit for bit; a test holds them equal), written into
    ``out`` through ``scratch`` instead of a dozen temporaries: the Monte Carlo calls it once per
    comparison and chunk of samples, where allocating dominated. Arrays of one length, ``out``
    of that length too; capacities and prices not negative, as they are.

    Where none exists, no mask picks the samples out (a masked write branches on each sample,
    ~3 ns when some cross and others do not): with ``q, a, V >= 0`` a crossover exists exactly
    where the margin ``a q - V`` is positive, so the margin is floored at +0 and the same
    formula runs on: ``(F + a q) / +0`` makes ``m*`` infinite (or NaN when ``F + a q = 0``),
    and so the crossover, taken with NaN-ignoring minimum; the rare NaN left (a unit that
    serves nothing priced at nothing, nothing to divide) or -inf (an API price of -0) is set
    to +inf last.
    """
    n = len(out)
    a, aq, t1 = scratch.take(n)
    q, v, f, m0 = unit_rps, unit_usd_per_month, float(ops_usd_per_month), float(min_units)
    np.multiply(api_usd_per_request, float(hours_per_month), out=a)
    np.multiply(a, SECONDS_PER_HOUR, out=a)  # API cost per request/s per month, as crossover_rps
    np.multiply(a, q, out=aq)
    np.subtract(aq, v, out=t1)  # margin: what a billing unit saves at full use
    np.maximum(t1, 0.0, out=t1)  # no crossover where it is not positive: divide by zero there
    np.add(t1, 0.0, out=t1)  # +0, never -0, whichever zero the maximum kept
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.add(aq, f, out=aq)
        np.divide(aq, t1, out=aq)
        np.ceil(aq, out=aq)
        np.subtract(aq, 1.0, out=aq)  # m*: the last step on which the API is not dearer
        # crossover_rps's two branches are one formula at m = max(m*, m0): min(m q, (F + V m) / a)
        np.maximum(aq, m0, out=aq)
        np.multiply(aq, q, out=t1)
        np.multiply(v, aq, out=aq)
        np.add(aq, f, out=aq)
        np.divide(aq, a, out=aq)
        # NaN-ignoring, so that a unit serving nothing (inf * 0 = NaN) is inf without the fix below;
        # out written once (it may be a slice of a large array)
        np.fmin(t1, aq, out=out)
    # a is done with: its memory holds the flags
    fine = np.greater_equal(out, 0.0, out=scratch.floats[0][:n].view(np.bool_)[:n])
    if not fine.all():  # NaN, or -inf from a price of -0
        np.logical_not(fine, out=fine)
        np.copyto(out, np.inf, where=fine)
    return out
