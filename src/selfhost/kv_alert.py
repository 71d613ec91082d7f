"""KV-cache utilization alerts: at what concurrency and request rate a replica's KV cache
passes a threshold, and whether that happens before the latency targets break.

Serving guides recommend alerting at 85 % KV-cache utilization (vLLM's ``kv_cache_usage_perc``
gauge), because an exhausted cache makes the engine preempt and recompute sequences. Whether
that alert is the first warning depends on the workload: with short requests the latency
targets usually break long before the cache fills; with long prompts the cache fills first.

Two layers, as elsewhere: array functions that broadcast (``kv_utilization``,
``concurrency_at_utilization``), and ``kv_alert``, which builds the arrays from replica
configs and returns a `Report` for the CLI.

The two array functions are each other's inverse and share their last two arguments:
``tokens_per_sequence``, the mean tokens each sequence holds in the cache [tokens], and
``kv_capacity_tokens``, the KV tokens the replica holds beside its weights [tokens]. Every
argument may be a scalar or an array, all broadcastable to one shape; the result has that shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from selfhost.analysis import (
    LIMIT_WORDS,
    THROUGHPUT_NOTE,
    Record,
    Report,
    _with_evidence,
    config_record,
    entry_provenance,
    workload_assumptions,
)
from selfhost.engine import memory, throughput
from selfhost.errors import InputError
from selfhost.scenarios import ReplicaConfig, Workload, build_arrays, capacity_within_targets

FloatArray = NDArray[np.float64]

DEFAULT_THRESHOLD = 0.85  # the article's alert level; a common vLLM dashboard default
_ROUNDING_SLACK = 1e-9  # keeps ceil() from stepping over an exact product such as 0.85 x 100

# What limits a replica first as load rises.
FIRST_KV_ALERT = "kv alert"  # the alert fires while the latency targets still hold
FIRST_LATENCY = "latency target"  # the latency targets break before KV use reaches the threshold
FIRST_ENGINE_CAP = "engine batch cap"  # the engine's sequence cap keeps KV use below the threshold
FIRST_NONE = "does not fit"  # not even one request fits the KV cache


def kv_utilization(
    concurrency: ArrayLike, tokens_per_sequence: ArrayLike, kv_capacity_tokens: ArrayLike
) -> FloatArray:
    """Share of the KV cache in use with ``concurrency`` sequences in flight. [unitless]

    ``concurrency x tokens_per_sequence / kv_capacity_tokens``; infinite where the capacity is 0.
    ``concurrency``: sequences in flight [sequences]; the other arguments as the module says.

    vLLM counts allocated 16-token blocks, so its gauge reads up to one block per sequence
    higher (under 1.5 % at 1,150 tokens per sequence); that rounding is not modelled.
    """
    b = np.asarray(concurrency, dtype=float)
    t = np.asarray(tokens_per_sequence, dtype=float)
    cap = np.asarray(kv_capacity_tokens, dtype=float)
    used = b * t
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap > 0, used / np.where(cap > 0, cap, 1.0), np.inf)
    return np.asarray(share, dtype=float)


def concurrency_at_utilization(
    threshold: ArrayLike, tokens_per_sequence: ArrayLike, kv_capacity_tokens: ArrayLike
) -> FloatArray:
    """Fewest whole sequences whose KV use reaches ``threshold``. [sequences]

    ``max(1, ceil(threshold x kv_capacity_tokens / tokens_per_sequence))``; 0 where the
    capacity is 0 (nothing runs). ``threshold``: the alert level, a share of the KV capacity,
    in (0, 1] [unitless]; the other arguments as the module says.
    """
    thr = np.asarray(threshold, dtype=float)
    t = np.maximum(1.0, np.asarray(tokens_per_sequence, dtype=float))
    cap = np.asarray(kv_capacity_tokens, dtype=float)
    b = np.maximum(1.0, np.ceil(thr * cap / t - _ROUNDING_SLACK))
    return np.asarray(np.where(cap > 0, b, 0.0), dtype=float)


def _optional(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def kv_alert(
    configs: Sequence[ReplicaConfig],
    workload: Workload,
    threshold: float = DEFAULT_THRESHOLD,
    replicas: int = 1,
) -> Report:
    """For each replica config: the concurrency and request rate at which KV use crosses
    ``threshold``, against the load at which the latency targets break.

    Parameters
    ----------
    configs : Replica configs to check.
    workload : Request size, latency targets and KV dtype.
    threshold : Alert level, share of the KV capacity, in (0, 1]. [unitless]
    replicas : Replicas behind the load balancer; request rates are multiplied by it. [count]

    Notes
    -----
    A sequence holds ``P + D/2`` tokens on average over its life (the mean length the
    throughput model sizes batches at, docs/method.md §2.7), so the alert fires at
    ``B_alert = ceil(threshold x kv_capacity / (P + D/2))`` sequences, and the replica then
    completes ``B_alert / (D x tpot(B_alert))`` requests/s (`throughput.load_point`). When all
    sequences are near their full length ``P + D`` at once, the cache reaches the threshold
    earlier, at ``ceil(threshold x kv_capacity / (P + D))`` (``alert_concurrency_at_full_length``).
    The latency-limited load is `throughput.capacity`; the alert is the first warning when
    ``B_alert`` is within it.
    """
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"--threshold {threshold:g} must be a share of the KV cache in (0, 1], e.g. 0.85")
    if replicas < 1:
        raise InputError(f"--replicas {replicas} must be at least 1")
    serving, mem = build_arrays(configs, workload.kv_dtype)
    p, d = workload.input_tokens, workload.output_tokens
    mean_tokens = p + d / 2.0
    full_tokens = float(p + d)
    cap_tokens = mem.kv_capacity_tokens
    # the cache tokens a sequence holds: fewer than its length where layers are windowed
    mean_held = mem.sequence_kv_tokens(mean_tokens) * np.ones(len(configs))
    full_held = mem.sequence_kv_tokens(full_tokens) * np.ones(len(configs))
    alert_b = concurrency_at_utilization(threshold, mean_held, cap_tokens)
    alert_b_full = concurrency_at_utilization(threshold, full_held, cap_tokens)
    kv_limit = memory.max_concurrent_sequences(cap_tokens, mean_held)
    engine_cap = np.asarray(serving.max_batch_sequences, dtype=float) * np.ones(len(configs))
    fits_one = cap_tokens >= full_held
    reachable = fits_one & (alert_b <= engine_cap)
    at_alert = throughput.load_point(serving, np.maximum(alert_b, 1.0), p, d)
    within = capacity_within_targets(serving, workload)
    util_at_capacity = kv_utilization(within.batch, mean_held, cap_tokens)
    util_at_engine_cap = kv_utilization(np.minimum(engine_cap, kv_limit), mean_held, cap_tokens)

    results: list[Record] = []
    notes = [THROUGHPUT_NOTE]
    for i, c in enumerate(configs):
        if not fits_one[i]:
            first = FIRST_NONE
            notes.append(f"{c.label}: one {p}+{d}-token request does not fit the KV cache")
        elif not reachable[i]:
            first = FIRST_ENGINE_CAP
        elif within.batch[i] >= alert_b[i]:
            first = FIRST_KV_ALERT
        else:
            first = FIRST_LATENCY
        ok = bool(reachable[i])
        results.append(
            {
                **config_record(c),
                "input_tokens": p,
                "output_tokens": d,
                "threshold": threshold,
                "replicas": replicas,
                "kv_capacity_tokens": int(cap_tokens[i]),
                "tokens_per_sequence": mean_tokens,
                "max_concurrency_kv": int(kv_limit[i]),
                "engine_max_batch_sequences": int(engine_cap[i]),
                "alert_concurrency": int(alert_b[i]) if ok else None,
                "alert_concurrency_at_full_length": int(alert_b_full[i]) if fits_one[i] else None,
                "alert_kv_utilization": float(kv_utilization(alert_b[i], mean_held[i], cap_tokens[i]))
                if ok
                else None,
                "alert_rps_per_replica": float(at_alert.requests_per_s[i]) if ok else None,
                "alert_rps": float(at_alert.requests_per_s[i]) * replicas if ok else None,
                "alert_output_tokens_per_s_per_replica": float(at_alert.output_tokens_per_s[i])
                if ok
                else None,
                "alert_tpot_s": float(at_alert.tpot_s[i]) if ok else None,
                "alert_ttft_s": float(at_alert.ttft_s[i]) if ok else None,
                "capacity_concurrency": int(within.batch[i]),
                "capacity_rps_per_replica": float(within.point.requests_per_s[i]),
                "capacity_rps": float(within.point.requests_per_s[i]) * replicas,
                "capacity_limit": LIMIT_WORDS[int(within.limit[i])],
                "kv_utilization_at_capacity": _optional(float(util_at_capacity[i])) if fits_one[i] else None,
                "kv_utilization_at_engine_cap": _optional(float(util_at_engine_cap[i]))
                if fits_one[i]
                else None,
                "alert_within_latency_targets": first == FIRST_KV_ALERT,
                "first_limit": first,
                "estimate": True,
            }
        )
    assumptions = {
        **workload_assumptions(workload),
        "threshold": threshold,
        "replicas": replicas,
        "tokens_per_sequence_basis": "mean over a request's life, input + output / 2",
        "catalog_entries": entry_provenance(configs),
    }
    return Report(
        results=results,
        assumptions=assumptions,
        notes=_with_evidence(notes, results),
        verdict=_verdict(results),
    )


def _verdict(results: Sequence[Record]) -> str | None:
    """One line for the table: what happens first on the first config."""
    if not results:
        return None
    r = results[0]
    pct = f"{r['threshold'] * 100:g}%"
    if r["first_limit"] == FIRST_NONE:
        return f"{r['model']} on {r['gpus_per_replica']}x {r['gpu']}: one request does not fit the KV cache."
    if r["first_limit"] == FIRST_ENGINE_CAP:
        return (
            f"KV use never reaches {pct}: the engine's cap of {r['engine_max_batch_sequences']} sequences "
            f"holds it at {r['kv_utilization_at_engine_cap'] * 100:.0f}%."
        )
    head = (
        f"KV use crosses {pct} at {r['alert_concurrency']} concurrent sequences, "
        f"{r['alert_rps']:.3g} req/s over {r['replicas']} replica(s)"
    )
    if r["first_limit"] == FIRST_KV_ALERT:
        return f"{head}, within the latency targets (which hold up to {r['capacity_rps']:.3g} req/s)."
    return (
        f"{head}; the latency targets break first, at {r['capacity_concurrency']} sequences "
        f"({r['capacity_rps']:.3g} req/s, KV {r['kv_utilization_at_capacity'] * 100:.0f}%)."
    )
