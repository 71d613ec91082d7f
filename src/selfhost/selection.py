"""A scenario's selection looked up in a catalog: the replica configs it may deploy, the APIs it names.

Ids and aliases resolve here, with the close matches in the error when one is unknown. The
defaults: every model except those kept only to test the throughput model (tag 'calibration');
every GPU, or for a costed question every GPU that has a price of the requested kinds (a GPU
nobody rents cannot be costed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from selfhost.catalog.lookup import resolve, resolve_many
from selfhost.errors import InputError
from selfhost.scenarios import (
    ConfigTable,
    compatibility_problem,
    default_engine,
    layout_kind,
    price_options,
    replica_configs,
)

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering, Catalog, EngineProfile, Gpu, Model, Quantization
    from selfhost.question import Scenario

T = TypeVar("T")

CALIBRATION_TAG = "calibration"  # models kept to test the throughput model, not offered by default


def resolve_all(entries: Sequence[T], queries: Sequence[str], kind: str, section: str) -> list[T]:
    """The entries named by ``queries`` (ids or aliases), or every entry when there are none."""
    if not queries:
        return list(entries)
    return resolve_many(entries, queries, kind=kind, list_command=f"selfhost catalog list {section}")  # type: ignore[type-var]


def selected_apis(catalog: Catalog, scenario: Scenario) -> list[ApiOffering] | None:
    """The APIs the scenario names, or None: compare with the comparable APIs."""
    named = scenario.selection.apis
    return resolve_all(catalog.apis, named, "API", "apis") if named else None


def _layouts_measured(configs: ConfigTable, profiles: Mapping[str, EngineProfile]) -> NDArray[np.bool_]:
    """Per config, whether its `layout_kind` is among the ``measured_layouts`` of its engine's
    profile in ``profiles`` (an engine not there has none measured)."""
    split = [e.multi_gpu == "layer-split" for e in configs.engines]
    measured = [set(p.measured_layouts) if (p := profiles.get(e.id)) else set() for e in configs.engines]
    rows = zip(
        configs.engine.tolist(),
        configs.n_gpus.tolist(),
        configs.stages.tolist(),
        configs.dp_attention.tolist(),
        strict=True,
    )
    return np.array([layout_kind(n, split[e], s, d) in measured[e] for e, n, s, d in rows], dtype=bool)


def select_configs(
    catalog: Catalog,
    scenario: Scenario,
    *,
    models: Sequence[str] | None = None,
    native_quant: bool = False,
    evidence: Catalog | None = None,
) -> ConfigTable:
    """Replica configs of the scenario's selection, in model, quantization, GPU, count order.

    ``models`` replaces the selection's models (`plan` takes them from its workloads file).
    ``native_quant``: each model on its own, in its native precision unless quantizations are
    named (`estimate`, `kv-alert`), rather than every quantization. ``--measured-only`` keeps the configs whose GPU
    has measurements behind the engine profile, as ``evidence`` (default: ``catalog``) records
    them: a baseline catalog is judged by today's measurements.

    Raises:
        InputError: an unknown id, or no runnable combination (the simplest case says why).
    """
    sel = scenario.selection
    asked = sel.models if models is None else tuple(models)
    model_list: list[Model] = resolve_all(catalog.models, asked, "model", "models")
    if not asked:
        model_list = [m for m in model_list if CALIBRATION_TAG not in m.tags]
    gpu_list: list[Gpu] = resolve_all(catalog.gpus, sel.gpus, "GPU", "gpus")
    costs = scenario.costs
    if costs is not None and not sel.gpus:
        gpu_list = [
            g
            for g in gpu_list
            if price_options(
                catalog,
                g,
                pricing=costs.pricing,
                providers=costs.providers,
                hours_per_month=costs.hours_per_month,
            )
        ]
    engine = (
        None
        if sel.engine == "auto"
        else resolve(catalog.engines, sel.engine, kind="engine", list_command="selfhost catalog list engines")
    )
    counts = list(sel.gpu_counts) or None

    def runnable(models: Sequence[Model], quants: Sequence[Quantization]) -> ConfigTable:
        """The configs of these models and quantizations on the GPUs selected; none is an error
        that says why, for the simplest explicit case, else generally."""
        found = replica_configs(
            catalog, models=models, quants=quants, gpus=gpu_list, gpu_counts=counts, engine=engine
        )
        if len(found):
            return found
        if len(models) == 1 and len(gpu_list) == 1 and len(quants) == 1:
            chosen = engine or default_engine(catalog, quants[0], gpu_list[0])
            if chosen is None:
                raise InputError(f"no serving engine in the catalog runs {quants[0].id} on {gpu_list[0].id}")
            problem = compatibility_problem(models[0], quants[0], gpu_list[0], (counts or [1])[0], chosen)
            if problem:
                raise InputError(problem)
        raise InputError(
            "no runnable model x quantization x GPU combination in this selection; widen --model/--gpu/--quant"
        )

    if native_quant:  # each model on its own: its native precision unless quantizations are named
        configs = ConfigTable.concat(
            [
                runnable(
                    [m],
                    resolve_all(
                        catalog.quantizations, sel.quants or (m.native_dtype,), "quantization", "quants"
                    ),
                )
                for m in model_list
            ]
        )
    else:
        configs = runnable(
            model_list, resolve_all(catalog.quantizations, sel.quants, "quantization", "quants")
        )
    if sel.measured_only:
        profiles = {e.id: e for e in (evidence or catalog).engines}
        measured = {e.id: set(e.measured_gpus) for e in profiles.values()}
        on_gpu = np.array(
            [[g.id in measured.get(e.id, set()) for g in configs.gpus] for e in configs.engines], dtype=bool
        ).reshape(len(configs.engines), len(configs.gpus))
        configs = configs.take(on_gpu[configs.engine, configs.gpu])
        if not len(configs):
            raise InputError(
                "--measured-only: no GPU in this selection has published measurements behind its engine "
                "profile; widen --gpu/--engine (docs/accuracy.md lists the measured GPUs) or drop the option"
            )
        configs = configs.take(_layouts_measured(configs, profiles))
        if not len(configs):
            raise InputError(
                "--measured-only: no layout in this selection has published measurements behind its engine "
                "profile (measured_layouts); widen --gpus/--engine or drop the option"
            )
    return configs
