"""Predicted vs measured, per point and summarized: what `selfhost validate` prints.

Records are plain dicts with raw numbers (units in the keys, or in the record's ``unit`` for the
measured and predicted values, which differ by scope); the error is ``predicted / measured - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from selfhost.calibration.loader import ResolvedMeasurement
from selfhost.calibration.predict import (
    measurement_arrays,
    predict_values,
    relative_error,
    serving_arrays,
    summarize,
)

Record = dict[str, Any]


@dataclass(frozen=True)
class ValidationReport:
    """Per-point records and the summary (overall, by engine, by dataset, worst points)."""

    results: list[Record]
    summary: dict[str, Any]
    assumptions: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        """The JSON document: ``{"results": [...], "summary": {...}, "assumptions": {...}}``."""
        return {"results": self.results, "summary": self.summary, "assumptions": self.assumptions}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def validate(resolved: Sequence[ResolvedMeasurement], worst: int = 5) -> ValidationReport:
    """Predict every measurement with the catalog's engine profiles and score each prediction.

    ``worst`` is how many of the largest errors (by ``|ln(predicted / measured)|``) the summary lists.
    """
    if not resolved:
        return ValidationReport([], {"points": 0, "by_engine": {}, "by_dataset": {}, "worst": []})
    predictions = predict_values(serving_arrays(resolved), measurement_arrays(resolved))
    measured = np.asarray([r.measurement.value for r in resolved], dtype=float)
    error = relative_error(predictions.value, measured)
    results: list[Record] = []
    for i, r in enumerate(resolved):
        m = r.measurement
        results.append(
            {
                "id": m.id,
                "dataset": m.group,
                "model": r.model.id,
                "gpu": r.gpu.id,
                "quant": r.quant.id,
                "engine": r.engine.id,
                "n_gpus": m.n_gpus,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
                "concurrency": m.concurrency,
                "request_rate_per_s": m.request_rate,
                "batching": m.batching,
                "kv_dtype": m.kv_dtype,
                "scope": m.scope,
                "unit": m.unit,
                "measured": m.value,
                "predicted": _finite(predictions.value[i]),
                "error": _finite(error[i]),
                "batch_predicted": _finite(predictions.batch[i]),
                "fits_memory": bool(predictions.kv_batch_limit[i] >= 1),
                "excluded_from_fit": bool(m.exclude_from_fit),
            }
        )
    engines = np.asarray([r.engine.id for r in resolved])
    datasets = np.asarray([r.measurement.group for r in resolved])

    def by(keys: np.ndarray) -> dict[str, Any]:
        return {
            k: summarize(predictions.value[keys == k], measured[keys == k]).as_dict()
            for k in sorted(set(keys.tolist()))
        }

    with np.errstate(divide="ignore", invalid="ignore"):
        log_error = np.abs(np.log(predictions.value / measured))
    order = np.argsort(-np.nan_to_num(log_error, nan=np.inf), kind="stable")[: max(0, worst)]
    summary = {
        **summarize(predictions.value, measured).as_dict(),
        "by_engine": by(engines),
        "by_dataset": by(datasets),
        "worst": [
            {"id": results[i]["id"], "error": results[i]["error"], "scope": results[i]["scope"]}
            for i in order
        ],
    }
    return ValidationReport(results, summary)
