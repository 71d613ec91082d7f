"""Kits for the self-hosted deployments of a saved plan (`selfhost plan --format json`).

Each deployment of the plan becomes one `KitSpec`, sized as the plan sized it: the replica
config it chose, the strictest TPOT target of the workloads sharing it (the plan's level), the
strictest TTFT target, the longest context, and the request-weighted mean token mix for the
concurrency cap. Its capacity is the plan's pooling, ``sum(rps_i) / sum(rps_i / capacity_i)``
with each workload's capacity as the plan computed it, so the "add a replica" alert fires where
the plan's replica count stops sufficing; the replica count is the plan's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from selfhost.catalog.lookup import resolve
from selfhost.catalog.schema import Catalog
from selfhost.deploy.spec import KitSettings, KitSpec, kit_spec
from selfhost.errors import InputError
from selfhost.scenarios import ReplicaConfig, Workload, layouts


@dataclasses.dataclass(frozen=True)
class PlannedKit:
    """One deployment of the plan: its name, sized spec and where its endpoint lives."""

    deployment: str
    spec: KitSpec
    settings: KitSettings


def read_plan(path: Path) -> dict[str, Any]:
    """A `selfhost plan --format json` document."""
    from selfhost.inputs import MAX_DOCUMENT_BYTES, read_json

    doc = read_json(path, "plan file", max_bytes=MAX_DOCUMENT_BYTES)  # bounded; a regular file
    if not isinstance(doc, dict) or not {"results", "deployments", "assumptions"} <= set(doc):
        raise InputError(
            f"{path} is not a plan: expected the output of `selfhost plan WORKLOADS.yaml --format json`"
        )
    return doc


def _settings_for(base_url: str, defaults: KitSettings) -> KitSettings:
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise InputError(f"deployment base URL '{base_url}' must be https://HOST[:PORT]/v1 for a kit")
    return dataclasses.replace(defaults, server_name=parts.hostname, https_port=parts.port or 443)


def planned_kits(
    doc: dict[str, Any],
    catalog: Catalog,
    *,
    defaults: KitSettings,
    weights: dict[str, str],
) -> list[PlannedKit]:
    """One sized kit per self-hosted deployment of the plan ``doc``.

    ``weights`` maps deployment names to checkpoints, for formats quantized ahead of time.
    """
    a = doc["assumptions"]
    specs = {w["name"]: w for w in a.get("workloads", [])}
    by_deployment: dict[str, list[dict[str, Any]]] = {}
    for r in doc["results"]:
        if r.get("choice") == "self-hosted":
            by_deployment.setdefault(r["deployment"], []).append(r)
    kits = []
    for d in doc["deployments"]:
        name = d["deployment"]
        rows = by_deployment.get(name, [])
        if not rows:
            continue
        model = resolve(catalog.models, d["model"], kind="model", list_command="selfhost catalog list models")
        quant = resolve(
            catalog.quantizations,
            d["quant"],
            kind="quantization",
            list_command="selfhost catalog list quants",
        )
        gpu = resolve(catalog.gpus, d["gpu"], kind="GPU", list_command="selfhost catalog list gpus")
        engine = resolve(
            catalog.engines, d["engine"], kind="engine", list_command="selfhost catalog list engines"
        )
        config = replica_of(model, quant, gpu, int(d["gpus_per_replica"]), engine, str(d.get("layout", "")))
        rps = [float(r["requests_per_s"]) for r in rows]
        total = sum(rps)
        ws = [specs.get(r["workload"], {}) for r in rows]
        workload = Workload(
            input_tokens=round(sum(q * r["input_tokens"] for q, r in zip(rps, rows, strict=True)) / total),
            output_tokens=round(sum(q * r["output_tokens"] for q, r in zip(rps, rows, strict=True)) / total),
            context_tokens=max(
                int(w.get("context_tokens") or r["input_tokens"] + r["output_tokens"])
                for w, r in zip(ws, rows, strict=True)
            ),
            max_tpot_ms=float(d["max_tpot_ms"]),
            max_ttft_ms=min(float(w.get("max_ttft_ms", 3000.0)) for w in ws),
            kv_dtype=a.get("kv_dtype", "auto"),
        )
        spec = kit_spec(
            config,
            workload,
            rps=total,
            target_utilization=float(a["target_utilization"]),
            min_replicas=int(a.get("min_replicas", 1)),
            served_model_name=model.id,
            weights=weights.get(name),
        )
        pooled = total / sum(q / float(r["capacity_rps_per_replica"]) for q, r in zip(rps, rows, strict=True))
        spec = dataclasses.replace(spec, capacity_rps_per_replica=pooled, replicas=int(d["replicas"]))
        kits.append(PlannedKit(name, spec, _settings_for(d["base_url"], defaults)))
    return kits


def replica_of(model: Any, quant: Any, gpu: Any, n_gpus: int, engine: Any, layout: str) -> ReplicaConfig:
    """The plan's replica, in the layout the plan chose (its `ReplicaConfig.layout` text; a plan
    saved before layouts were recorded gets the engine's first layout for the GPU count)."""
    configs = [
        ReplicaConfig(model, quant, gpu, n_gpus, engine, pipeline_stages=stages, dp_attention=dp)
        for stages, dp in layouts(model, gpu, n_gpus, engine)
    ]
    return next((c for c in configs if c.layout == layout), configs[0])
