"""Predict measured throughput and latency with the engine's roofline model, and score the error.

Each measurement becomes one replica config (its model, quantization, GPU, GPU count and the
engine it names, not the default engine) and one row of `MeasurementArrays`; the prediction runs
on whole arrays with the same engine functions `selfhost estimate` uses
(`selfhost.engine.throughput`), so validating here validates the tool.

How a row's batch is chosen:

- ``concurrency: N``: N sequences in flight, capped by what the KV cache holds at the mean
  sequence length ``P + D/2`` and by the engine's batch limit (the rest would queue). A static
  batch ran at its stated size, so only the KV cache caps it.
- ``concurrency: max`` (offline maximum throughput): the largest batch within the KV cache and
  the engine's batch limit (and the number of requests, if given); no latency limit.
- ``request_rate: r`` (a serving run driven at r requests/s): the batch B at which the replica
  completes r requests/s, ``B / (D * tpot(B)) = r`` (Little's law with the model's TPOT); above
  the replica's maximum rate, the maximum batch. A run of N requests at rate r lasts about
  ``N / r`` plus one request's latency (TTFT + D x TPOT), so its measured output rate is
  ``N * D / (N / r + TTFT + D * TPOT)``; without N the steady rate ``r * D`` is predicted.
- ``latency_targets`` (with ``concurrency: max``): the largest batch within the targets, as
  `selfhost.engine.throughput.capacity` finds it for ``selfhost crossover``.

``replicas: R`` spreads the load evenly: each replica serves 1/R of the concurrency, the rate
and the requests, and the deployment's throughput is R times one replica's. ``max_num_seqs``
replaces the engine profile's batch cap.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from selfhost.calibration.loader import ResolvedMeasurement
from selfhost.calibration.schema import SECONDS_PER_UNIT
from selfhost.engine.throughput import (
    LENGTHS_EXPONENTIAL,
    LENGTHS_FIXED,
    LENGTHS_UNIFORM,
    LoadPoint,
    ServingArrays,
    attended_context_tokens,
    capacity,
    decode_step_time_s,
    drain_mean_step_s,
    drain_time_s,
    load_point,
    prefill_marginal_time_s,
    prefill_time_s,
)
from selfhost.scenarios import ReplicaConfig, build_arrays

FloatArray = NDArray[np.float64]

#: Scope codes of `MeasurementArrays.scope`.
SCOPE_CODES: dict[str, int] = {
    "total": 0,
    "per_gpu": 1,
    "single_stream": 2,
    "tpot": 3,
    "ttft": 4,
    "prefill": 5,
    "requests": 6,
    "batch_latency": 7,
}
#: `Measurement.lengths` -> LENGTHS_* code.
LENGTH_CODES: dict[str, int] = {
    "fixed": LENGTHS_FIXED,
    "variable": LENGTHS_EXPONENTIAL,
    "uniform": LENGTHS_UNIFORM,
}
#: Batch codes of `MeasurementArrays.batch_kind`.
FIXED, MAX, RATE = 0, 1, 2
_BISECTION_STEPS = 40  # continuous bisection of the batch for rate-driven rows

#: Share of points within this relative error counts as "within +-30 %". [unitless]
WITHIN = 0.30


@dataclass(frozen=True)
class MeasurementArrays:
    """The workload and measured quantity of each measurement, shape (n,).

    input_tokens, output_tokens : Prompt and generated tokens per request. [tokens]
    batch_kind : FIXED (concurrency given), MAX (offline maximum), RATE (request rate). [code]
    concurrency : Sequences in flight for FIXED rows, else NaN. [sequences]
    request_rate : Arrival rate for RATE rows, else NaN. [requests/s]
    requests : Requests in the run; inf when not given. [count]
    scope : SCOPE_CODES code of the measured quantity. [code]
    seconds_per_unit : For time scopes, seconds per unit of the value (ms: 1e-3); else 1. [s]
    n_gpus : GPUs of one replica. [count]
    static : True for a static batch (prompts prefilled together, then decoded together). [bool]
    replicas : Replicas sharing the load. [count]
    counts_input : True where a token rate counts input and output tokens. [bool]
    max_num_seqs : The engine's batch cap as run; NaN: the profile's. [sequences]
    max_tpot_s, max_ttft_s : Latency targets of a latency-bounded run; inf where none. [s]
    lengths : How output lengths were drawn (`selfhost.engine.throughput` LENGTHS_* code). [code]
    """

    input_tokens: FloatArray
    output_tokens: FloatArray
    batch_kind: NDArray[np.int8]
    concurrency: FloatArray
    request_rate: FloatArray
    requests: FloatArray
    scope: NDArray[np.int8]
    seconds_per_unit: FloatArray
    n_gpus: FloatArray
    static: NDArray[np.bool_]
    replicas: FloatArray
    counts_input: NDArray[np.bool_]
    max_num_seqs: FloatArray
    max_tpot_s: FloatArray
    max_ttft_s: FloatArray
    lengths: NDArray[np.int8]


@dataclass(frozen=True)
class Predictions:
    """Predicted values (in each measurement's unit) and the batch each was predicted at, shape (n,)."""

    value: FloatArray
    batch: FloatArray
    kv_batch_limit: FloatArray


def measurement_arrays(resolved: Sequence[ResolvedMeasurement]) -> MeasurementArrays:
    """The workload arrays of `resolved`, in order."""
    ms = [r.measurement for r in resolved]

    def col(values: Any) -> FloatArray:
        return np.asarray(list(values), dtype=float)

    kinds = [RATE if m.request_rate is not None else MAX if m.concurrency == "max" else FIXED for m in ms]
    targets = [m.latency_targets for m in ms]
    ms_to_s = SECONDS_PER_UNIT["ms"]
    return MeasurementArrays(
        input_tokens=col(m.input_tokens for m in ms),
        output_tokens=col(m.output_tokens for m in ms),
        batch_kind=np.asarray(kinds, dtype=np.int8),
        concurrency=col(m.concurrency if isinstance(m.concurrency, int) else math.nan for m in ms),
        request_rate=col(m.request_rate if m.request_rate is not None else math.nan for m in ms),
        requests=col(m.requests if m.requests is not None else math.inf for m in ms),
        scope=np.asarray([SCOPE_CODES[m.scope] for m in ms], dtype=np.int8),
        seconds_per_unit=col(SECONDS_PER_UNIT.get(m.unit, 1.0) for m in ms),
        n_gpus=col(m.n_gpus for m in ms),
        static=np.asarray([m.batching == "static" or m.scope == "batch_latency" for m in ms], dtype=bool),
        replicas=col(m.replicas for m in ms),
        counts_input=np.asarray([m.tokens == "input+output" for m in ms], dtype=bool),
        max_num_seqs=col(m.max_num_seqs if m.max_num_seqs is not None else math.nan for m in ms),
        max_tpot_s=col(t.tpot_ms * ms_to_s if t and t.tpot_ms else math.inf for t in targets),
        max_ttft_s=col(t.ttft_ms * ms_to_s if t and t.ttft_ms else math.inf for t in targets),
        lengths=np.asarray([LENGTH_CODES[m.lengths] for m in ms], dtype=np.int8),
    )


def replica_config(r: ResolvedMeasurement) -> ReplicaConfig:
    """The replica a measurement ran on, with the engine and the layout it names.

    ``expert_parallel`` changes no figure of the model: the experts' weights and FLOPs are the same
    whether sharded or placed whole, and the all-to-all that replaces the MoE all-reduce moves
    about as many bytes when experts per token are about the GPU count (DeepSeek: 8 and 8).
    """
    m = r.measurement
    return ReplicaConfig(
        r.model,
        r.quant,
        r.gpu,
        m.n_gpus,
        r.engine,
        pipeline_stages=m.pipeline_parallel,
        dp_attention=m.dp_attention,
    )


def serving_arrays(resolved: Sequence[ResolvedMeasurement]) -> ServingArrays:
    """`ServingArrays` of each measurement's replica, in order, each with its own KV-cache dtype and
    what its release's engine generation changes: its step overheads, and KV bytes read once per
    query head (`kv_reads_per_step` = query heads / KV heads) where its decode kernel did so."""
    n = len(resolved)
    fields = [f.name for f in dataclasses.fields(ServingArrays)]
    columns = {name: np.zeros(n) for name in fields}
    for kv_dtype in sorted({r.measurement.kv_dtype for r in resolved}):
        index = [i for i, r in enumerate(resolved) if r.measurement.kv_dtype == kv_dtype]
        part, _ = build_arrays([replica_config(resolved[i]) for i in index], kv_dtype=kv_dtype)
        for name in fields:
            columns[name][index] = np.broadcast_to(np.asarray(getattr(part, name), dtype=float), len(index))
    for i, r in enumerate(resolved):  # an older release: what its generation changes
        generation = r.generation
        if generation is None:
            continue
        if generation.step_overhead_s is not None:
            columns["step_overhead_s"][i] = generation.step_overhead_s
            columns["step_overhead_per_sequence_s"][i] = generation.step_overhead_per_sequence_s or 0.0
        if generation.kv_read_per_query_head:
            architecture = r.model.architecture
            columns["kv_reads_per_step"][i] = (
                architecture.num_attention_heads / architecture.num_key_value_heads
            )
    return ServingArrays(**columns)


def _rows(s: ServingArrays, index: NDArray[np.intp]) -> ServingArrays:
    """The rows ``index`` of every array field of ``s`` (scalar fields kept)."""
    return ServingArrays(
        **{
            f.name: np.asarray(getattr(s, f.name))[index]
            if np.ndim(getattr(s, f.name))
            else getattr(s, f.name)
            for f in dataclasses.fields(ServingArrays)
        }
    )


def _solve_rate_batch(
    s: ServingArrays, rate: FloatArray, b_max: FloatArray, p: FloatArray, d: FloatArray
) -> FloatArray:
    """Batch B in [1, b_max] at which ``B / (D * tpot(B))`` equals ``rate`` (vectorized bisection)."""
    lo = np.ones_like(b_max)
    hi = np.maximum(1.0, b_max)
    for _ in range(_BISECTION_STEPS):
        mid = (lo + hi) / 2.0
        fast_enough = load_point(s, mid, p, d).requests_per_s >= rate
        hi = np.where(fast_enough, mid, hi)
        lo = np.where(fast_enough, lo, mid)
    return np.asarray(hi, dtype=float)


def predict_values(s: ServingArrays, w: MeasurementArrays) -> Predictions:
    """Predict every measured quantity, in the measurement's own unit. Arrays of shape (n,).

    Notes
    -----
    Everything is computed for one replica, which carries ``1 / replicas`` of the load (its
    concurrency, rate and requests); rates over the deployment are ``replicas`` times its own.
    The batch limit is that of `selfhost.engine.throughput.capacity` without latency targets:
    the KV cache at the mean sequence length ``P + D/2``, the engine's batch cap (``max_num_seqs``
    where the run states it), and the requests. Rows with ``latency_targets`` take capacity()'s
    batch within those targets instead.

    Continuous batching, with ``pt = load_point(s, B, P, D)``: total = ``pt.output_tokens_per_s``
    (rate rows: the finite-run rate of the module docstring); per_gpu = total / GPUs;
    single_stream = 1 / tpot; requests = total / D; tpot = ``pt.tpot_s``; ttft =
    ``prefill_time_s(P)`` at concurrency 1 (nothing else is running), else ``pt.ttft_s``;
    prefill = P / ``prefill_time_s(P)``. A rate counting input and output tokens is
    ``total * (P + D) / D``.

    Static batch of B (and ``batch_latency``: a batch sent at once): the B prompts are
    prefilled together, ``ttft = prefill_time_s(P) + (B - 1) * prefill_marginal_time_s(P)``; then
    every step decodes B tokens, ``tpot = step(B, P + D/2)``; the batch takes ``ttft + (D - 1) *
    tpot`` and total = ``B * D`` over that.
    """
    p, d = w.input_tokens, np.maximum(1.0, w.output_tokens)
    replicas = np.maximum(1.0, w.replicas)
    engine_cap = np.where(np.isnan(w.max_num_seqs), s.max_batch_sequences, w.max_num_seqs)
    s = dataclasses.replace(s, max_batch_sequences=np.asarray(engine_cap, dtype=float))
    requests_each = w.requests / replicas  # inf stays inf
    # capacity() without latency targets: KV cache at the mean sequence length, then the engine cap
    kv_limit = np.floor(s.kv_capacity_tokens / np.maximum(1.0, attended_context_tokens(s, p + d / 2.0)))
    b_cap = np.maximum(1.0, np.minimum(np.minimum(kv_limit, engine_cap), requests_each))
    # a static batch ran at its stated size, so the engine was built for it: only KV memory caps it
    fixed_cap = np.where(w.static, np.maximum(1.0, kv_limit), b_cap)
    fixed = np.minimum(np.maximum(1.0, np.nan_to_num(w.concurrency, nan=1.0) / replicas), fixed_cap)
    rate = np.nan_to_num(w.request_rate, nan=1.0) / replicas
    at_cap = load_point(s, b_cap, p, d)
    is_rate = w.batch_kind == RATE
    rate_batch = b_cap.copy()
    solve = np.flatnonzero(is_rate & (rate < at_cap.requests_per_s))
    if solve.size:  # bisection only on the rate-driven rows that the replica can keep up with
        rate_batch[solve] = _solve_rate_batch(_rows(s, solve), rate[solve], b_cap[solve], p[solve], d[solve])
    bounded = np.flatnonzero((w.batch_kind == MAX) & (np.isfinite(w.max_tpot_s) | np.isfinite(w.max_ttft_s)))
    max_batch = b_cap.copy()
    if bounded.size:  # latency-bounded runs: the largest batch within the targets, as crossover plans
        within = capacity(
            _rows(dataclasses.replace(s, max_batch_sequences=np.minimum(engine_cap, requests_each)), bounded),
            p[bounded],
            d[bounded],
            w.max_tpot_s[bounded],
            w.max_ttft_s[bounded],
        )
        max_batch[bounded] = np.maximum(1.0, within.batch)
    batch = np.where(w.batch_kind == FIXED, fixed, np.where(is_rate, rate_batch, max_batch))
    pt = load_point(s, batch, p, d)
    prefill_s = prefill_time_s(s, p)

    # continuous batching
    finite = np.isfinite(requests_each)
    requests = np.where(finite, requests_each, 0.0)
    varied = w.lengths != LENGTHS_FIXED
    context = p + d / 2.0
    pm = prefill_marginal_time_s(s, p)

    drained = np.flatnonzero(varied & finite)  # only these rows need the drain's quadrature
    drained_s = _rows(s, drained)

    def drain_s(b: FloatArray, at_b: LoadPoint) -> FloatArray:
        """How long the last b requests take once no new ones arrive: D steps at b for fixed
        lengths (`at_b.tpot_s` includes their prefill interruptions), the drain otherwise."""
        out = d * at_b.tpot_s
        if drained.size:
            out = out.copy()
            out[drained] = drain_time_s(
                drained_s, b[drained], context[drained], d[drained], w.lengths[drained]
            )
        return np.asarray(out, dtype=float)

    def closed_run_s(b: FloatArray, at_b: LoadPoint) -> FloatArray:
        """A run of N requests kept at b in flight: with fixed lengths the steady rate; with varied
        lengths N - b finish at the steady rate, then the last b drain (their prefills paid before)."""
        steady = requests * d * at_b.tpot_s / b
        tail = np.maximum(0.0, requests - b) * d * at_b.tpot_s / b + b * pm + drain_s(b, at_b)
        return np.asarray(np.where(varied, tail, steady), dtype=float)

    closed_total = np.where(
        finite, requests * d / np.where(finite, closed_run_s(batch, pt), 1.0), pt.output_tokens_per_s
    )
    # a rate-driven run of N requests lasts until the last arrival (N / r) has been served, or as long
    # as the requests take when all are queued (a rate above capacity), whichever is longer
    open_s = requests / rate + pt.ttft_s + drain_s(batch, pt)
    run_s = np.maximum(open_s, closed_run_s(b_cap, at_cap))
    served_rate = np.minimum(rate, at_cap.requests_per_s)
    rate_total = np.where(finite, requests * d / np.where(finite, run_s, 1.0), served_rate * d)
    total = np.where(is_rate, rate_total, closed_total)
    # a finite closed run with varied lengths ends in a drain: its reported TPOT averages the N - b
    # requests served at b in flight and the last b draining (`drain_mean_step_s`)
    tpot = pt.tpot_s
    if drained.size:
        tail = drain_mean_step_s(drained_s, batch[drained], context[drained], w.lengths[drained])
        share = np.minimum(1.0, batch[drained] / np.maximum(requests[drained], 1.0))
        tpot = tpot.copy()
        tpot[drained] = np.where(
            is_rate[drained], tpot[drained], (1.0 - share) * pt.tpot_s[drained] + share * tail
        )
    ttft = np.where((batch <= 1.0) & ~is_rate, prefill_s, pt.ttft_s)

    # static batch
    static_step = decode_step_time_s(s, batch, p + d / 2.0)
    static_ttft = prefill_s + (batch - 1.0) * prefill_marginal_time_s(s, p)
    batch_s = static_ttft + (d - 1.0) * static_step
    total = np.where(w.static, batch * d / batch_s, total)
    tpot = np.where(w.static, static_step, tpot)
    ttft = np.where(w.static, static_ttft, ttft)

    deployment_total = total * replicas
    token_rate = np.where(w.counts_input, deployment_total * (p + d) / d, deployment_total)
    by_scope = [
        token_rate,
        token_rate / (w.n_gpus * replicas),
        1.0 / tpot,
        tpot / w.seconds_per_unit,
        ttft / w.seconds_per_unit,
        p / prefill_s,
        deployment_total / d,
        batch_s / w.seconds_per_unit,
    ]
    value = np.choose(w.scope.astype(int), by_scope)
    return Predictions(
        value=np.asarray(value, dtype=float), batch=np.asarray(batch, dtype=float), kv_batch_limit=kv_limit
    )


# --------------------------------------------------------------------------- scoring


def relative_error(predicted: FloatArray, measured: FloatArray) -> FloatArray:
    """``predicted / measured - 1``: +0.25 means 25 % too high. [unitless]"""
    return np.asarray(np.asarray(predicted, dtype=float) / np.asarray(measured, dtype=float) - 1.0)


@dataclass(frozen=True)
class ErrorSummary:
    """Error statistics of a set of points.

    points : How many. [count]
    median_abs_error : Median of ``|predicted / measured - 1|``. [unitless]
    mean_abs_log_error : Mean of ``|ln(predicted / measured)|`` (symmetric in over/under). [unitless]
    within_30 : Share of points with ``|predicted / measured - 1| <= 0.30``. [unitless]
    median_error : Median signed error (bias). [unitless]
    """

    points: int
    median_abs_error: float
    mean_abs_log_error: float
    within_30: float
    median_error: float

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def summarize(predicted: FloatArray, measured: FloatArray) -> ErrorSummary:
    """Summary statistics of the relative error; NaN figures for an empty set."""
    predicted = np.asarray(predicted, dtype=float)
    measured = np.asarray(measured, dtype=float)
    if predicted.size == 0:
        return ErrorSummary(0, math.nan, math.nan, math.nan, math.nan)
    err = relative_error(predicted, measured)
    return ErrorSummary(
        points=int(predicted.size),
        median_abs_error=float(np.median(np.abs(err))),
        mean_abs_log_error=float(np.mean(np.abs(np.log(predicted / measured)))),
        within_30=float(np.mean(np.abs(err) <= WITHIN + 1e-12)),
        median_error=float(np.median(err)),
    )
