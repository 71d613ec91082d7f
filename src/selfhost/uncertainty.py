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

Memory is bounded and linear in the samples, whatever the number of comparisons: the draws
are made a chunk of samples at a time when they are used (`DrawStream`: the same numbers, in
the same order, as drawing them all at once with `draw`), each deployment's samples are
computed once and each comparison's after it, in chunks of ``SAMPLE_CHUNK`` samples; only the
arrays a quantile needs (a few of length n_samples) are held whole, and the efficiency factors of
at most ``EXTRAPOLATED_ROWS_KEPT`` extrapolated pairs.

Speed, with the same numbers bit for bit as the whole-array computation: each chunk's work runs
in place in work arrays, each whole array written once per value; no masked writes (a branch per
sample) in the crossover kernel; the three quantiles are partitions, on the doubles' bit patterns
as 64-bit integers where they are known to be +0 or more (the same order, a faster partition) and
on `order_keys` for the saving; an order statistic among the 'never' crossovers is +inf without one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
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
)
from selfhost.engine import cost, crossover
from selfhost.errors import InputError
from selfhost.scenarios import PriceOption, ReplicaConfig, Workload
from selfhost.units import SECONDS_PER_HOUR

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog
    from selfhost.question import Scenario

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int_]

API_PRICE_SPREAD = (
    0.10  # list prices are public; +-10 % covers volume discounts, tiers and a quarter's changes
)
# The throughput model's mean |ln(predicted / measured)| on published measurements it was not
# fitted to (leave one source out, docs/calibration-fit.json `throughput_by_gpu_evidence`, 150 points):
# 0.215 on the 118 points whose GPU the fold had measured behind the engine's profile, 0.342 on the 32
# it had not. A lognormal has E|ln X| = sigma * sqrt(2 / pi), so sigma = 0.215 / 0.798 = 0.27 and
# 0.342 / 0.798 = 0.43 (a test holds them together).
EFFICIENCY_SIGMA = 0.27
EFFICIENCY_SIGMA_EXTRAPOLATED = 0.43
GPU_PRICE_FALLBACK_SPREAD = 0.20  # when the catalog has a single offer, or for owned hardware
# capacity evaluations spanning the efficiency samples: 100,000 draws reach about +-4.3 sigma, so
# at sigma 0.27 neighbouring nodes are about 4 % apart
EFFICIENCY_NODES = 65  # with 1.0, at most 66 nodes: a node index fits in a byte
# extrapolated pairs whose efficiency factors a run keeps (8 bytes a sample each) rather than
# drawing their normals twice, once for the range of every factor and again when used
EXTRAPOLATED_ROWS_KEPT = 3
QUANTILES = (0.10, 0.50, 0.90)
QUANTILE_NAMES = ("p10", "p50", "p90")
DEFAULT_SEED = 0
SAMPLE_CHUNK = 65536  # samples per step of the element-wise work: 512 KB float arrays, which stay in L2 cache


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
    x_nodes, at_nodes = efficiency_nodes(configs, workload, float(eff.min()), float(eff.max()))
    out = np.empty((len(configs), eff.shape[1]))
    for e in np.unique(engine_index):
        which = np.flatnonzero(engine_index == e)
        if len(x_nodes) == 1:
            out[which, :] = at_nodes[which, :1]
            continue
        j, w = node_weights(x_nodes, eff[e])
        below, above = at_nodes[which][:, j], at_nodes[which][:, j + 1]
        out[which, :] = below * (1.0 - w) + above * w
    return out


def efficiency_nodes(
    configs: Sequence[ReplicaConfig], workload: Workload, low: float, high: float
) -> tuple[FloatArray, FloatArray]:
    """The log-efficiency nodes spanning [low, high] (and 1.0), and each config's capacity at them.

    Returns log(nodes), shape (n_nodes,), and capacities, shape (n_configs, n_nodes). [requests/s]
    """
    nodes = (
        np.unique(np.append(np.geomspace(low, high, EFFICIENCY_NODES), 1.0))
        if high > low
        else np.array([low])
    )
    p, d = (
        np.full(len(nodes), float(workload.input_tokens)),
        np.full(len(nodes), float(workload.output_tokens)),
    )
    return np.log(nodes), capacity_rps(configs, workload, nodes, p, d).T


def node_weights(x_nodes: FloatArray, efficiency_multiplier: FloatArray) -> tuple[IntArray, FloatArray]:
    """Per sample, the node below its log-efficiency and the weight of the node above (in [0, 1])."""
    n = len(efficiency_multiplier)
    j, w = np.empty(n, dtype=np.intp), np.empty(n)
    NodeSearch(x_nodes).weights(efficiency_multiplier, j, w)
    return j, w


NODE_BINS = 4096  # equal bins over the node range for `NodeSearch`'s first guess


def node_below(x_nodes: FloatArray, x: FloatArray) -> IntArray:
    """``clip(searchsorted(x_nodes, x, side="right") - 1, 0, len(x_nodes) - 2)`` for finite ``x``.

    ``x_nodes`` sorted, at least two (see `NodeSearch`).
    """
    j = np.empty(len(x), dtype=np.intp)
    NodeSearch(x_nodes).below(np.asarray(x, dtype=float), j)
    return j


class NodeSearch:
    """Which node lies below each sample, and its interpolation weight, over fixed sorted nodes.

    The indices of ``clip(searchsorted(x_nodes, x, side="right") - 1, 0, len(x_nodes) - 2)`` in
    a few passes: a binary search over 66 nodes costs ~35 ns per sample. Built once per set of
    nodes: ``NODE_BINS`` equal bins over them, the node below each bin's lower edge (the guess)
    and the node after it. A sample takes its bin's guess, one node up where it reaches that next
    node; then a check that it lies between its node and the next sends the few a bin holding two
    nodes, or a rounding at a bin's edge, put wrong, stepping until none is wrong.
    """

    def __init__(self, x_nodes: FloatArray) -> None:
        self.x_nodes = x_nodes
        self.last = last = len(x_nodes) - 2
        self.x0, width = float(x_nodes[0]), float(x_nodes[-1] - x_nodes[0])
        self.scale = NODE_BINS / width if width > 0 else 0.0
        edges = self.x0 + np.arange(NODE_BINS) / self.scale if self.scale > 0 else np.full(NODE_BINS, self.x0)
        self.guess = np.clip(np.searchsorted(x_nodes, edges, side="right") - 1, 0, last)
        self.above = np.append(x_nodes[1:], np.inf)  # above[j] = x_nodes[j + 1]
        # a sample at or above this is one node up from its bin's guess (never above the last)
        self.step_at = np.where(self.guess < last, self.above[self.guess], np.inf)
        self._work: tuple[FloatArray, FloatArray, IntArray] | None = None

    def below(self, x: FloatArray, j: IntArray) -> tuple[FloatArray, FloatArray]:
        """Each sample's node into ``j``; returns the nodes below and above, ``x_nodes[j]`` and ``x_nodes[j + 1]``.

        The two returned arrays are work arrays of this search, overwritten by its next call.
        """
        n = len(x)
        if self._work is None or len(self._work[0]) < n:
            self._work = np.empty(n), np.empty(n), np.empty(n, dtype=np.intp)
        lo, hi, b = self._work[0][:n], self._work[1][:n], self._work[2][:n]
        np.subtract(x, self.x0, out=lo)
        np.multiply(lo, self.scale, out=lo)
        np.clip(lo, 0, NODE_BINS - 1, out=lo)
        np.copyto(b, lo, casting="unsafe")  # the bin: truncated toward zero, as astype
        # every index in range by construction: mode='clip' changes nothing but skips NumPy's
        # check of each index (it halves the cost of a lookup)
        np.take(self.guess, b, out=j, mode="clip")
        np.take(self.step_at, b, out=lo, mode="clip")
        j += lo <= x
        while True:  # up while the next node is not above x, down while this one is
            np.take(self.x_nodes, j, out=lo, mode="clip")
            np.take(self.above, j, out=hi, mode="clip")
            up, down = hi <= x, lo > x
            if up.any() or down.any():  # rare: stepping, or samples beyond the end nodes
                up &= j < self.last
                down &= j > 0
            if not (up.any() or down.any()):
                return lo, hi
            j += up
            j -= down

    def weights(self, efficiency_multiplier: FloatArray, j: IntArray, w: FloatArray) -> None:
        """Per sample, the node below its log-efficiency into ``j`` and the weight of the node above into ``w``.

        ``clip((x - x_nodes[j]) / (x_nodes[j + 1] - x_nodes[j]), 0, 1)`` at ``x = log(efficiency_multiplier)``.
        """
        x = np.log(efficiency_multiplier, out=w)
        lo, hi = self.below(x, j)
        np.subtract(x, lo, out=w)
        np.subtract(hi, lo, out=hi)
        np.divide(w, hi, out=w)
        np.clip(w, 0.0, 1.0, out=w)


# --------------------------------------------------------------------------- streamed draws


class DrawStream:
    """The random factors of `draw`, the same numbers in the same order, made a chunk of samples
    at a time when they are used, so a run never holds them all.

    `draw` takes, from one generator, the GPU price positions (n_price_keys rows of n_samples),
    the API factors (n_apis rows), the engines' normals, then the extrapolated pairs' normals.
    A uniform row is read by jumping the generator to it (PCG64 makes one 64-bit word per
    double), and read on from there when the next chunk asked for is the one after; the normals
    (ziggurat: a variable number of words each) are made once in order when the stream is built:
    the engines' rows are kept, one per engine, and for the extrapolated pairs the generator
    state at each chunk is noted, to make them again.
    """

    def __init__(
        self,
        spec: UncertaintySpec,
        n_price_keys: int,
        n_apis: int,
        n_engines: int,
        extrapolated: Sequence[int],
    ) -> None:
        self.spec, self.n = spec, spec.samples
        self.chunks = [slice(i, min(self.n, i + SAMPLE_CHUNK)) for i in range(0, self.n, SAMPLE_CHUNK)]
        self._n_price_keys = n_price_keys
        self._origin = np.random.PCG64(spec.seed).state
        self._extrapolated = list(extrapolated)
        self._sigma_own = np.sqrt(spec.efficiency_sigma_extrapolated**2 - spec.efficiency_sigma**2)
        # per uniform row and per extrapolated pair: where its generator stands (sample), and it
        self._readers: dict[int, tuple[int, np.random.Generator]] = {}
        self._own_readers: dict[int, tuple[int, np.random.Generator]] = {}
        bits = self._bits((n_price_keys + n_apis) * self.n)
        normal = np.random.Generator(bits)
        self._z = normal.standard_normal((n_engines, self.n))
        self._own_states: list[list[Any]] = []
        low, high = np.inf, -np.inf
        chunk = min(self.n, SAMPLE_CHUNK)
        row, own = np.empty(chunk), np.empty(chunk)
        for e in range(n_engines):
            for part in self.chunks:
                factor = self.efficiency_multiplier(e, part, out=row[: part.stop - part.start])
                low, high = min(low, float(factor.min())), max(high, float(factor.max()))
        # the first few pairs' factors are kept as they are made (not made again when used)
        self._kept = np.empty((min(len(self._extrapolated), EXTRAPOLATED_ROWS_KEPT), self.n))
        for x in range(len(self._extrapolated)):
            states = []
            for part in self.chunks:
                m = part.stop - part.start
                states.append(bits.state)
                normal.standard_normal(m, out=own[:m])
                factor = self._extrapolated_factor(
                    x, part, own[:m], self._kept[x, part] if x < len(self._kept) else row[:m]
                )
                low, high = min(low, float(factor.min())), max(high, float(factor.max()))
            self._own_states.append(states)
        self.low, self.high = low, high  # the efficiency factors' range, over every row and sample

    def _bits(self, skip: int) -> np.random.PCG64:
        bits = np.random.PCG64()
        bits.state = self._origin
        bits.advance(skip)
        return bits

    def _uniform(self, row: int, part: slice, out: FloatArray | None = None) -> FloatArray:
        at, generator = self._readers.get(row, (-1, None))
        if generator is None or at != part.start:
            generator = np.random.Generator(self._bits(row * self.n + part.start))
        self._readers[row] = (part.stop, generator)
        if out is None:
            return np.asarray(generator.random(part.stop - part.start))
        return np.asarray(generator.random(part.stop - part.start, out=out))

    def price_u(self, key: int, part: slice, out: FloatArray | None = None) -> FloatArray:
        """Position in the GPU price range of draw ``key``, samples ``part`` (into ``out``). [unitless]"""
        return self._uniform(key, part, out)

    def api_multiplier(self, api: int, part: slice, out: FloatArray | None = None) -> FloatArray:
        """Factor on API ``api``'s list prices, samples ``part`` (into ``out``). [unitless]

        ``1 + spread * (2 u - 1)`` as `draw` makes it, in place, in one operation fewer:
        ``(2 spread) * (u - 0.5)`` is ``spread * (2 u - 1)`` to the bit, as ``u - 0.5`` and
        ``2 u - 1`` are exact for u in [0, 1) (multiples of 2**-53) and doubling is exact.
        """
        u = self._uniform(self._n_price_keys + api, part, out)
        np.subtract(u, 0.5, out=u)
        np.multiply(u, 2.0 * self.spec.api_price_spread, out=u)
        np.add(u, 1.0, out=u)
        return u

    def efficiency_multiplier(self, row: int, part: slice, out: FloatArray | None = None) -> FloatArray:
        """Factor on MBU and MFU of efficiency row ``row`` (`EfficiencyKeys.row_index`), samples ``part`` (into ``out``)."""
        m = part.stop - part.start
        out = np.empty(m) if out is None else out
        x = row - len(self._z)
        if x < 0:
            np.multiply(self._z[row, part], self.spec.efficiency_sigma, out=out)
            return np.asarray(np.exp(out, out=out))
        if x < len(self._kept):
            np.copyto(out, self._kept[x, part])
            return out
        at, generator = self._own_readers.get(x, (-1, None))
        if generator is None or at != part.start:
            bits = np.random.PCG64()
            bits.state = self._own_states[x][part.start // SAMPLE_CHUNK]
            generator = np.random.Generator(bits)
        self._own_readers[x] = (part.stop, generator)
        own = generator.standard_normal(m)
        return self._extrapolated_factor(x, part, own, out)

    def _extrapolated_factor(self, x: int, part: slice, own: FloatArray, out: FloatArray) -> FloatArray:
        """``exp(sigma * engine_z + sigma_own * own)`` into ``out`` (``own`` overwritten)."""
        np.multiply(self._z[self._extrapolated[x], part], self.spec.efficiency_sigma, out=out)
        np.multiply(own, self._sigma_own, out=own)
        np.add(out, own, out=out)
        return np.asarray(np.exp(out, out=out))


def order_statistics(n: int) -> IntArray:
    """Which sorted sample each of `QUANTILES` is, inverted-CDF (as `quantiles` picks them).

    NumPy's rule for the method, from its virtual index ``n q - 1`` (the same float operations):
    that index where it is a whole number, the next one up where not, and at least 0; a test
    holds it to ``np.quantile`` (which would partition n numbers to say so).
    """
    virtual = np.float64(n) * np.asarray(QUANTILES, dtype=float) - 1.0
    below = np.floor(virtual)
    at = np.where(virtual - below == 0.0, below, below + 1.0)
    return np.asarray(np.clip(at, 0, n - 1), dtype=np.intp)


def quantiles_in_place(
    samples: FloatArray, order: IntArray, infinite: int = 0, *, non_negative: bool = False
) -> FloatArray:
    """`quantiles` of one row of samples, which it reorders (partitions, no sort, no copy).

    One partition per order statistic, the middle first, then each outer one within its side:
    several times faster than NumPy's partition on several positions at once. ``infinite``:
    how many samples are +inf, when the caller knows (no NaN then); an order statistic among
    them is +inf without a partition. ``non_negative``: the caller knows that every sample is
    +0 or more and none is NaN. IEEE 754 doubles of that kind sort as their bit patterns read
    as 64-bit integers, so the partition runs on that view: the same order, without the float
    partition's NaN handling (about 40 % faster).
    """
    low, mid, high = (int(k) for k in order)
    finite = len(samples) - infinite
    keys = samples.view(np.int64) if non_negative else samples
    if mid < finite:
        keys.partition(mid)
        keys[:mid].partition(low) if low < mid else None
        keys[mid + 1 :].partition(high - mid - 1) if mid < high < finite else None
    elif low < finite:
        keys.partition(low)
    picked = np.asarray(samples[order], dtype=float)
    picked[order >= finite] = np.inf
    return picked


LOW_63_BITS = np.int64(2**63 - 1)


def order_keys(x: FloatArray, out: NDArray[np.int64]) -> NDArray[np.int64]:
    """64-bit integers that sort as the doubles ``x`` do (no NaN; -0 just below +0), into ``out``.

    A double's bits read as an integer sort as the double where it is +0 or more, and in
    reverse below: flipping all but the sign bit of those puts them in order too. Its own inverse.
    """
    bits = x.view(np.int64)
    np.right_shift(bits, 63, out=out)  # -1 where the sign bit is set, else 0
    np.bitwise_and(out, LOW_63_BITS, out=out)
    np.bitwise_xor(out, bits, out=out)
    return out


def quantiles_of_order_keys(keys: NDArray[np.int64], order: IntArray) -> FloatArray:
    """`quantiles` of the doubles whose `order_keys` these are (which it reorders)."""
    low, mid, high = (int(k) for k in order)
    keys.partition(mid)
    keys[:mid].partition(low) if low < mid else None
    keys[mid + 1 :].partition(high - mid - 1) if high > mid else None
    picked = np.asarray(keys[order], dtype=np.int64)
    return np.asarray(
        order_keys(picked.view(np.float64), np.empty_like(picked)).view(np.float64), dtype=float
    )


@dataclass
class SampledRow:
    """One deployment under every sample: its billing unit's capacity and price, and its monthly cost.

    rps, usd_per_month : Per sample, shape (n_samples,). [requests/s], [USD/month]
    min_units, gpus, replicas : The same in every sample. [count]
    self_hosted_usd_per_month : Monthly cost at the rate, per sample. [USD/month]
    non_negative : Whether the inputs make every monthly cost +0 or more and none NaN (see
        `quantiles_in_place`): a positive GPU price, at least one unit, a finite rate and
        operations cost of 0 or more.
    """

    rps: FloatArray
    usd_per_month: FloatArray
    min_units: float
    gpus: float
    replicas: float
    self_hosted_usd_per_month: FloatArray
    non_negative: bool = False

    def unit(self, part: slice) -> cost.BillingUnit:
        """The billing units of samples ``part``."""
        return cost.BillingUnit(
            gpus=np.asarray(self.gpus),
            replicas=np.asarray(self.replicas),
            usd_per_month=self.usd_per_month[part],
            rps=self.rps[part],
            min_units=np.asarray(self.min_units),
        )


def sampled_rows(
    grid: DeploymentGrid,
    rows: IntArray,
    workload: Workload,
    ca: CostAssumptions,
    rps: float,
    stream: DrawStream,
    ranges: Sequence[PriceRange],
    price_index: IntArray,
    efficiency_index: IntArray,
) -> Iterator[tuple[int, SampledRow]]:
    """Each deployment row's samples (position in ``rows``, row), the rows of one efficiency draw together.

    Capacity under a sample's efficiency interpolates between the capacities at log-spaced
    efficiency nodes spanning every sample (see the module notes); the GPU price is uniform
    in the row's range. One row's arrays at a time (and one draw's interpolation weights): each
    row yielded is written into the same arrays, so use it before asking for the next.
    """
    configs = [grid.config(int(r)) for r in rows]
    x_nodes, at_nodes = efficiency_nodes(configs, workload, stream.low, stream.high)  # (n_rows, n_nodes)
    n_nodes, n = len(x_nodes), stream.n
    search = NodeSearch(x_nodes) if n_nodes > 1 else None
    chunk = min(n, SAMPLE_CHUNK)
    work = np.empty(chunk), np.empty(chunk), np.empty(chunk, dtype=np.intp)
    unit_rps, unit_usd, self_usd = np.empty(n), np.empty(n), np.empty(n)
    # one efficiency draw's node indices (a byte each: at most EFFICIENCY_NODES + 1 nodes) and weights, in turn
    below_node, weight = np.zeros(n, dtype=np.uint8), np.zeros(n)
    for e in dict.fromkeys(efficiency_index.tolist()):
        for part in stream.chunks:
            if search is None:  # a single node: every sample on it
                break
            factor = stream.efficiency_multiplier(e, part, out=work[0][: part.stop - part.start])
            j = work[2][: part.stop - part.start]
            search.weights(factor, j, weight[part])
            np.copyto(below_node[part], j, casting="unsafe")  # exact: fewer than 256 nodes
        for i in np.flatnonzero(efficiency_index == e).tolist():
            price_range = ranges[int(price_index[i])]
            option = grid.price(int(rows[i]))
            unit = cost.billing_unit(
                capacity_rps=1.0,
                target_utilization=ca.target_utilization,
                min_replicas=ca.min_replicas,
                gpus_per_replica=configs[i].n_gpus,
                instance_gpus=option.instance_gpus,
                usd_per_gpu_hour=1.0,
                hours_per_month=ca.hours_per_month,
            )  # the sample-independent parts: GPUs, replicas and minimum units of a billing unit
            # units of max(min_units >= 1, ceil(rps / unit rps) or inf) >= 1, each priced above 0 (a
            # price of low + u (high - low) >= low > 0), plus operations of 0 or more: no NaN, none below 0
            non_negative = (
                price_range.low_usd_per_gpu_hour > 0.0
                and math.isfinite(price_range.high_usd_per_gpu_hour)
                and float(unit.gpus) > 0.0
                and 0.0 < float(ca.hours_per_month) < math.inf
                and 0.0 <= float(rps) < math.inf
                and 0.0 <= float(ca.ops_usd_per_month) < math.inf
                and float(unit.min_units) >= 1.0
            )
            row = SampledRow(
                unit_rps,
                unit_usd,
                float(unit.min_units),
                float(unit.gpus),
                float(unit.replicas),
                self_usd,
                non_negative,
            )  # the same arrays for every row: the caller is done with one row when it asks for the next
            for part in stream.chunks:
                _sample_unit(
                    row, part, at_nodes[i], below_node[part], weight[part], stream, int(price_index[i]),
                    price_range, ca, rps, work,
                )  # fmt: skip
            yield i, row


def _sample_unit(
    row: SampledRow,
    part: slice,
    at_row: FloatArray,
    below_node: NDArray[np.uint8],
    weight: FloatArray,
    stream: DrawStream,
    price_key: int,
    price_range: PriceRange,
    ca: CostAssumptions,
    rps: float,
    work: tuple[FloatArray, FloatArray, IntArray],
) -> None:
    """Samples ``part`` of ``row``: capacity, billing-unit price and monthly cost, in place.

    The operations of `interpolated_capacity`, `cost.billing_unit` and
    `cost.self_hosted_usd_per_month`, in their order (the same numbers; the chunk tests hold
    them equal to the whole-array computation), without temporaries.
    """
    m = part.stop - part.start
    a, b, j = work[0][:m], work[1][:m], work[2][:m]
    unit_rps, unit_usd, self_usd = row.rps[part], row.usd_per_month[part], row.self_hosted_usd_per_month[part]
    if len(at_row) == 1:
        a.fill(at_row[0])
    else:  # at_row[j] * (1 - w) + at_row[j + 1] * w
        np.copyto(j, below_node)
        np.take(at_row, j, out=a, mode="clip")  # j <= len(at_row) - 2: no index to check
        np.subtract(1.0, weight, out=b)
        np.multiply(a, b, out=a)
        np.take(at_row[1:], j, out=b, mode="clip")
        np.multiply(b, weight, out=b)
        np.add(a, b, out=a)
    # each whole-sample array written once, by the last operation of its value (it is read back
    # soon, from cache), the operations themselves those of the whole-array computation
    np.multiply(a, float(ca.target_utilization), out=a)
    np.multiply(a, row.replicas, out=unit_rps)
    lo = price_range.low_usd_per_gpu_hour
    span = price_range.high_usd_per_gpu_hour - lo
    u = stream.price_u(price_key, part, out=b)
    np.multiply(u, span, out=u)
    np.add(u, lo, out=u)  # the GPU's hourly price in this sample
    np.multiply(u, row.gpus, out=u)
    np.multiply(u, float(ca.hours_per_month), out=unit_usd)
    # billing units: max(min_units, ceil(rps / unit rps)), infinite where a unit serves nothing
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.divide(float(rps), unit_rps, out=a)
    np.ceil(a, out=a)
    serves = np.greater(unit_rps, 0.0, out=b.view(np.bool_)[:m])  # the price is done with
    if not serves.all():
        np.copyto(a, np.inf, where=~serves)
    np.maximum(a, row.min_units, out=a)
    np.multiply(a, unit_usd, out=a)
    np.add(a, float(ca.ops_usd_per_month), out=self_usd)


def quantiles(samples: FloatArray) -> FloatArray:
    """P10, P50, P90 along the sample axis (the last), shape (3, n_pairs); infinities allowed.

    Inverted-CDF quantiles: each is one of the samples, so an unbounded sample ('never')
    stays infinite instead of turning into NaN by interpolation.
    """
    return np.asarray(np.quantile(samples, QUANTILES, axis=-1, method="inverted_cdf"), dtype=float)


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
    api_ids, api_index = _index([a.id for a in comps.apis])
    by_id = {a.id: a for a in comps.apis}
    base_per_request = request_usd(
        [by_id[i] for i in api_ids], workload.input_tokens, workload.output_tokens, ca.cached_input_fraction
    )  # (n_apis,)
    stream = DrawStream(spec, len(ranges), len(api_ids), len(efficiency.engines), efficiency.extrapolated)
    order = order_statistics(spec.samples)
    n = spec.samples
    api_quantiles: dict[int, FloatArray] = {}
    extra: dict[int, Record] = {}
    pending: dict[int, tuple[FloatArray, FloatArray, FloatArray, float, float]] = {}
    units = sampled_rows(
        comps.grid, rows, workload, ca, rps, stream, ranges, price_index, efficiency.row_index
    )
    chunk = min(n, SAMPLE_CHUNK)
    scratch = crossover.Scratch(chunk)
    per_request, api_chunk, saving_chunk = np.empty(chunk), np.empty(chunk), np.empty(chunk)
    api_seconds = float(
        np.asarray(rps, dtype=float) * (np.asarray(ca.hours_per_month, dtype=float) * SECONDS_PER_HOUR)
    )
    # an API's monthly costs, (factor > 0) x request price x seconds: +0 or more, none NaN, when
    # its request price and the seconds are finite, +0 or more
    non_negative_api = [
        _plain_non_negative(float(b)) and _plain_non_negative(api_seconds) for b in base_per_request
    ]
    # whole-sample arrays, made (and paged in) once and overwritten by each row and pair
    cross, saving_keys, api_usd = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n)
    for i, row in units:
        pairs = np.flatnonzero(pair_row == i).tolist()
        for k in pairs:
            a = int(api_index[k])
            whole_api = a not in api_quantiles  # the API's monthly costs are kept for their quantiles once
            cheaper_count = never_count = 0
            for part in stream.chunks:
                m = part.stop - part.start
                # every list price scales by the same factor, so the request price does too
                price = stream.api_multiplier(a, part, out=per_request[:m])
                np.multiply(price, base_per_request[a], out=price)
                api_part = api_usd[part] if whole_api else api_chunk[:m]
                np.multiply(price, api_seconds, out=api_part)  # as cost.api_usd_per_month
                # the saving, counted where positive, kept whole as its order keys (a faster partition)
                np.subtract(api_part, row.self_hosted_usd_per_month[part], out=saving_chunk[:m])
                cheaper_count += int(np.count_nonzero(saving_chunk[:m] > 0.0))
                order_keys(saving_chunk[:m], out=saving_keys[part])
                crossover.crossover_rps_into(
                    row.rps[part],
                    row.usd_per_month[part],
                    row.min_units,
                    ca.ops_usd_per_month,
                    price,
                    ca.hours_per_month,
                    cross[part],
                    scratch,
                )  # 'never' counts as infinite
                never_count += int(np.count_nonzero(np.equal(cross[part], np.inf)))
            if whole_api:  # price factors are positive: the costs are +0 or more with a price of +0 or more
                api_quantiles[a] = quantiles_in_place(api_usd, order, non_negative=non_negative_api[a])
            # shares of the samples (a mean of booleans, as a count over n: the same float)
            pending[k] = (
                quantiles_in_place(cross, order, never_count, non_negative=True),  # crossover_rps_into: +0 to inf
                api_quantiles[a], quantiles_of_order_keys(saving_keys, order),
                cheaper_count / n, never_count / n,
            )  # fmt: skip
        # last, as it reorders the row's costs (done with them: the next row overwrites them)
        self_quantiles = quantiles_in_place(
            row.self_hosted_usd_per_month, order, non_negative=row.non_negative
        )
        for k in pairs:
            cross_q, api_q, saving_q, cheaper, never = pending.pop(k)
            extra[k] = _pair_record(cross_q, self_quantiles, api_q, saving_q, cheaper, never)
    return [extra[k] for k in range(len(comps))], _ranges_record(ranges)


def _plain_non_negative(x: float) -> bool:
    """Finite, and +0 or more (not -0: its bits, read as an integer, sort below every other)."""
    return math.isfinite(x) and x >= 0.0 and not math.copysign(1.0, x) < 0.0


def _pair_record(
    cross: FloatArray,
    self_hosted: FloatArray,
    api: FloatArray,
    saving: FloatArray,
    cheaper: float,
    never: float,
) -> Record:
    """A comparison's extra record keys: the quantiles of each (None for an infinity), then the shares."""
    stats = {
        "crossover_rps": cross,
        "self_hosted_usd_per_month": self_hosted,
        "api_usd_per_month": api,
        "saving_usd_per_month": saving,
    }
    record: Record = {
        f"{name}_{q}": _number(values[j])
        for name, values in stats.items()
        for j, q in enumerate(QUANTILE_NAMES)
    }
    record["probability_self_hosted_cheaper"] = cheaper
    record["probability_no_crossover"] = never
    return record


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
    from selfhost.analysis import model_verdicts

    results = [{**record, **more} for record, more in zip(base.results, extra, strict=True)]
    report = dataclasses.replace(
        base,
        results=results,
        assumptions={**base.assumptions, "uncertainty": {**spec.record(), "gpu_price_ranges": ranges}},
        notes=[*base.notes, _note(spec, apis=True)],
        verdicts=model_verdicts(results) if base.verdicts is not None else None,
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
    stream = DrawStream(spec, len(ranges), 0, len(efficiency.engines), efficiency.extrapolated)
    order = order_statistics(spec.samples)
    tokens = workload.input_tokens + workload.output_tokens
    units = sampled_rows(
        grid, deployment_rows, workload, ca, rps, stream, ranges, price_index, efficiency.row_index
    )
    for i, row in units:
        q_month = quantiles_in_place(row.self_hosted_usd_per_month, order)
        q_mtok = cost.usd_per_mtok(q_month, rps, tokens, ca.hours_per_month)
        record = shown[i]
        for j, q in enumerate(QUANTILE_NAMES):
            record[f"self_hosted_usd_per_month_{q}"] = _number(q_month[j])
        for j, q in enumerate(QUANTILE_NAMES):
            record[f"self_hosted_usd_per_mtok_{q}"] = _number(q_mtok[j])
    report.assumptions["uncertainty"]["gpu_price_ranges"] = _ranges_record(ranges)
    return report
