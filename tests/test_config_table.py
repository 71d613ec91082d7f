"""The replica configs of a selection, held as columns (`scenarios.ConfigTable`).

`replica_configs` builds the table from index arrays, making no config object; these tests hold
it to a brute-force enumeration that makes every `ReplicaConfig` the plain way, and hold the
table's sequence behaviour (identity, take, concat, order of first use) that callers rely on.
"""

from __future__ import annotations

import numpy as np
import pytest

from selfhost.analysis import deployment_grid, entry_provenance
from selfhost.catalog.loader import load_catalog
from selfhost.question import Scenario
from selfhost.scenarios import (
    DEFAULT_GPU_COUNTS,
    ConfigTable,
    ReplicaConfig,
    build_arrays,
    default_engine,
    layouts,
    model_quant_problem,
    parallelism_problem,
    platform_problem,
    replica_configs,
)
from selfhost.selection import select_configs


@pytest.fixture(scope="module")
def catalog():
    return load_catalog([])


def brute_force_configs(catalog, models, quants, gpus, gpu_counts=None, engine=None) -> list[ReplicaConfig]:
    """Every runnable combination, one loop per level, each config made by its constructor."""
    found = []
    for model in models:
        for quant in quants:
            for gpu in gpus:
                chosen = engine or default_engine(catalog, quant, gpu)
                if (
                    chosen is None
                    or platform_problem(quant, gpu, chosen)
                    or model_quant_problem(model, quant)
                ):
                    continue
                counts = gpu_counts or [n for n in DEFAULT_GPU_COUNTS if n <= gpu.max_gpus_per_node]
                for n in counts:
                    for stages, dp in layouts(model, gpu, n, chosen):
                        if parallelism_problem(model, gpu, n, chosen, stages, dp) is None:
                            found.append(ReplicaConfig(model, quant, gpu, n, chosen, stages, dp))
    return found


def every_config_of(catalog, models):
    """The table of ``models`` on every quantization and GPU, default counts and engines."""
    return replica_configs(
        catalog, models=models, quants=catalog.quantizations, gpus=catalog.gpus, gpu_counts=None, engine=None
    )


def test_the_whole_catalog_enumerates_as_the_brute_force_does_config_by_config(catalog):
    kwargs = {"models": catalog.models, "quants": catalog.quantizations, "gpus": catalog.gpus}
    table = replica_configs(catalog, gpu_counts=None, engine=None, **kwargs)
    expected = brute_force_configs(catalog, **kwargs)
    assert len(table) == len(expected) > 10_000
    assert list(table) == expected
    assert table == expected  # a table equals a list of the same configs, in order


def test_given_gpu_counts_and_engine_enumerate_as_the_brute_force_does(catalog):
    sglang = next(e for e in catalog.engines if e.id == "sglang")
    kwargs = {"models": catalog.models[:6], "quants": catalog.quantizations, "gpus": catalog.gpus[:5]}
    table = replica_configs(catalog, gpu_counts=[2, 16], engine=sglang, **kwargs)
    assert list(table) == brute_force_configs(catalog, gpu_counts=[2, 16], engine=sglang, **kwargs)


def test_an_empty_selection_is_an_empty_table(catalog):
    table = replica_configs(
        catalog, models=[], quants=catalog.quantizations, gpus=catalog.gpus, gpu_counts=None, engine=None
    )
    assert len(table) == 0 and list(table) == []
    _, mem = build_arrays(
        replica_configs(
            catalog, models=catalog.models[:1], quants=[], gpus=catalog.gpus, gpu_counts=None, engine=None
        )
    )
    assert mem.weight_bytes.shape == (0,)


def test_a_position_gives_the_same_object_every_time(catalog):
    table = every_config_of(catalog, catalog.models[:3])
    first = table[7]
    assert table[7] is first
    assert list(table)[7] is first
    assert table[-1] is table[len(table) - 1]
    assert table[2:5] == [table[2], table[3], table[4]]
    with pytest.raises(IndexError):
        table[len(table)]


def test_take_keeps_the_chosen_configs_in_order_and_the_same_objects(catalog):
    table = every_config_of(catalog, catalog.models[:4])
    kept = table[3]
    mask = np.zeros(len(table), dtype=bool)
    mask[[3, 10, 11]] = True
    taken = table.take(mask)
    assert list(taken) == [table[3], table[10], table[11]]
    assert taken[0] is kept


def test_concat_joins_tables_one_after_the_other(catalog):
    a, b = every_config_of(catalog, catalog.models[:1]), every_config_of(catalog, catalog.models[1:2])
    joined = ConfigTable.concat([a, b])
    assert list(joined) == [*a, *b]
    assert joined.used("model") == [catalog.models[0], catalog.models[1]]


def test_a_list_of_configs_becomes_a_table_with_its_entries_told_apart_by_identity(catalog):
    configs = brute_force_configs(catalog, catalog.models[:2], catalog.quantizations[:3], catalog.gpus[:4])
    table = ConfigTable.of(configs)
    assert list(table) == configs and table[0] is configs[0]
    assert table.used("gpu") == list({id(c.gpu): c.gpu for c in configs}.values())
    # the engine's inputs are the same from the list and from the table
    from_list, _ = build_arrays(configs)
    from_table, _ = build_arrays(table)
    for name, value in vars(from_list).items():
        np.testing.assert_array_equal(value, vars(from_table)[name], err_msg=name)


def test_entries_used_are_listed_in_order_of_first_use(catalog):
    configs = brute_force_configs(catalog, catalog.models[:3], catalog.quantizations, catalog.gpus)
    table = ConfigTable.of(configs)
    for kind in ("model", "quant", "gpu", "engine"):
        first_use = list({id(getattr(c, kind)): getattr(c, kind) for c in configs}.values())
        assert table.used(kind) == first_use, kind
    assert list(entry_provenance(table)) == list(entry_provenance(list(configs)))


def test_the_headline_grid_prices_each_serving_config_with_every_option_of_its_gpu(catalog):
    scenario = Scenario.from_options(
        rps=5.0, input_tokens=1000, output_tokens=300, max_tpot_ms=100.0, max_ttft_ms=3000.0,
        pricing=["on-demand", "owned"], ops_usd_per_month=4000.0,
    )  # fmt: skip
    configs = select_configs(catalog, scenario)
    grid = deployment_grid(catalog, scenario, configs=configs)
    # rows: configs in order, then each config's GPU's options in catalog order
    expected = []
    for position in dict.fromkeys(grid.config_index.tolist()):
        gpu = configs[position].gpu.id
        expected += [(position, k) for k, p in enumerate(grid.prices) if p.gpu_id == gpu]
    assert list(zip(grid.config_index.tolist(), grid.price_index.tolist(), strict=True)) == expected
    assert all(grid.price(i).gpu_id == grid.config(i).gpu.id for i in range(len(grid)))
