"""Shared test cases: the built-in catalog and the default crossover workload, built once."""

from __future__ import annotations

import functools
from typing import Any

from selfhost.analysis import CostAssumptions
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.catalog.schema import Catalog
from selfhost.question import Scenario, Selection
from selfhost.scenarios import ReplicaConfig, Workload, replica_configs


@functools.cache
def builtin_catalog() -> Catalog:
    return load_catalog(env={})


def default_case(
    model_ids: tuple[str, ...] = ("llama-3.3-70b",), catalog: Catalog | None = None
) -> tuple[Catalog, list[ReplicaConfig], Workload, CostAssumptions]:
    """Every config of the models, the CLI's default workload (1000 in + 300 out) and costs."""
    catalog = catalog or builtin_catalog()
    models = [by_id(catalog.models)[m] for m in model_ids]
    configs = replica_configs(
        catalog, models=models, quants=catalog.quantizations, gpus=catalog.gpus, gpu_counts=None, engine=None
    )
    workload = Workload(
        input_tokens=1000, output_tokens=300, context_tokens=1300, max_tpot_ms=100, max_ttft_ms=3000
    )
    ca = CostAssumptions(
        hours_per_month=730,
        ops_usd_per_month=4000,
        setup_usd=0,
        target_utilization=0.7,
        min_replicas=1,
        cached_input_fraction=0,
        pricing=("on-demand",),
    )
    return catalog, configs, workload, ca


def default_scenario(
    model_ids: tuple[str, ...] = ("llama-3.3-70b",), rps: float = 5.0, **selection: Any
) -> Scenario:
    """`crossover --rps RPS -m MODEL...` with the CLI's defaults (1000 in + 300 out, on-demand prices);
    ``selection`` sets other `Selection` fields (gpus=("h100",), apis=(...), ...)."""
    return Scenario(selection=Selection(models=model_ids, **selection), rps=rps)
