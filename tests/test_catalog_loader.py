"""Reading catalog files, overlaying them, and reporting every problem with its file and location.

Most tests run against the small catalog in tests/fixtures/catalog/builtin/, which stands in
for data/ (see the autouse fixture), so they do not change when the real prices do.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from selfhost.catalog import loader
from selfhost.catalog.loader import load_catalog, read_catalog_file, validate_paths
from selfhost.catalog.schema import Gpu, RentalOffer
from selfhost.errors import CatalogError

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"
BUILTIN = FIXTURES / "builtin"  # gpus h100-sxm (alias h100), l40s; model llama-3.1-8b-instruct; ...
OVERLAY = FIXTURES / "overlay_offer.yaml"  # offers for l40s and h100-sxm, no gpus of its own
REPO_DATA = Path(__file__).resolve().parents[1] / "data"
SECTIONS = "gpus, rental_offers, purchase_options, models, quantizations, engines, apis"

_real_builtin_data_dir = loader.builtin_data_dir


@pytest.fixture(autouse=True)
def isolated_catalog(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixture catalog stands in for data/, and no user SELFHOST_CATALOG leaks in."""
    monkeypatch.setattr(loader, "builtin_data_dir", lambda: BUILTIN)
    monkeypatch.delenv("SELFHOST_CATALOG", raising=False)
    yield


# Minimal valid entries, one per section; tests change one field at a time.
ARCHITECTURE: dict[str, Any] = {
    "hf_architecture": "LlamaForCausalLM",
    "num_hidden_layers": 32,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 128256,
}
VALID: dict[str, dict[str, Any]] = {
    "gpus": {
        "id": "test-gpu",
        "name": "Test GPU",
        "vendor": "nvidia",
        "memory_gb": 80,
        "device_memory_gb": 85.5,
        "memory_bandwidth_gb_s": 3350,
        "bf16_tflops": 989,
        "power_w": 700,
        "interconnect": "NVLink 4",
        "interconnect_gb_s": 450,
        "max_gpus_per_node": 8,
        "platform": "cuda",
    },
    "rental_offers": {"id": "test-offer", "provider": "acme", "gpu": "h100-sxm", "usd_per_gpu_hour": 2.0},
    "purchase_options": {
        "id": "test-purchase",
        "gpu": "h100-sxm",
        "description": "one server",
        "usd_per_gpu": 30000,
        "amortization_months": 48,
        "watts_per_gpu": 1000,
        "usd_per_kwh": 0.1,
    },
    "models": {
        "id": "test-model",
        "name": "Test Model",
        "hf_repo": "org/test-model",
        "architecture": ARCHITECTURE,
        "params_total_b": 8.0,
        "params_active_b": 8.0,
        "max_context_tokens": 131072,
        "license": "MIT",
        "license_allows_production": True,
        "quality_tier": "small",
    },
    "quantizations": {
        "id": "test-quant",
        "name": "Test quantization",
        "linear_bits_per_weight": 4.25,
        "embedding_bits_per_weight": 16,
        "lm_head_bits_per_weight": 16,
        "compute_dtype": "bf16",
        "platforms": ["cuda"],
        "engines": ["vllm"],
    },
    "engines": {
        "id": "test-engine",
        "name": "Test engine",
        "platforms": ["cuda"],
        "gpu_memory_utilization": 0.9,
        "runtime_overhead_gb": 2,
        "memory_bandwidth_utilization": 0.7,
        "compute_utilization": 0.5,
        "step_overhead_s": 0.002,
        "allreduce_latency_s": 0.00002,
        "max_batch_sequences": 256,
    },
    "apis": {
        "id": "test-api",
        "provider": "acme",
        "api_model": "acme/test",
        "usd_per_mtok_input": 1.0,
        "usd_per_mtok_output": 2.0,
        "quality_tier": "small",
    },
}


def entry(section: str, **changes: Any) -> dict[str, Any]:
    """A valid entry of `section` with `changes` applied; a change to None removes the field."""
    result = {**VALID[section], "source": "test fixture", "as_of": "2025-01-01", **changes}
    return {k: v for k, v in result.items() if v is not None}


def write(directory: Path, name: str, content: str | dict[str, Any]) -> Path:
    """Write a catalog file: YAML text as is, or a mapping dumped as YAML."""
    path = directory / name
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
    return path


def error_of(path: Path) -> str:
    """The CatalogError message read_catalog_file raises for `path`."""
    with pytest.raises(CatalogError) as excinfo:
        read_catalog_file(path)
    return str(excinfo.value)


def ids(entries: tuple[Any, ...]) -> list[str]:
    return [e.id for e in entries]


# --------------------------------------------------------------------------- one file


def test_every_minimal_entry_in_this_test_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, "all.yaml", {section: [entry(section)] for section in VALID})
    assert {section: ids(tuple(items)) for section, items in read_catalog_file(path).items()} == {
        section: [VALID[section]["id"]] for section in VALID
    }


def test_read_catalog_file_returns_validated_entries_of_the_sections_present() -> None:
    sections = read_catalog_file(BUILTIN / "gpu_prices.yaml")
    assert list(sections) == ["gpus", "rental_offers"]
    assert ids(tuple(sections["gpus"])) == ["h100-sxm", "l40s"]
    assert all(isinstance(gpu, Gpu) for gpu in sections["gpus"])
    assert isinstance(sections["rental_offers"][0], RentalOffer)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", {}),
        ("# only a comment\n", {}),
        ("---\n", {}),
        ("gpus:\n", {"gpus": []}),  # a section with nothing under it
        ("gpus: []\n", {"gpus": []}),
    ],
)
def test_empty_files_and_sections_are_empty(tmp_path: Path, content: str, expected: dict[str, Any]) -> None:
    assert read_catalog_file(write(tmp_path, "empty.yaml", content)) == expected


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert error_of(path) == f"catalog file '{path}' does not exist"


def test_a_directory_where_a_file_was_expected_is_an_error(tmp_path: Path) -> None:
    assert error_of(tmp_path) == f"'{tmp_path}' is a directory; expected a YAML catalog file"


@pytest.mark.parametrize(
    ("content", "expected_error"),
    [
        (
            "gpus:\n  - id: a\n   name: b\n",
            "line 3, column 4: invalid YAML: did not find expected '-' indicator",
        ),
        (
            "gpus:\n  - id: a\n    notes: Tier: flagship\n",
            "line 3, column 16: invalid YAML: mapping values are not allowed in this context "
            "(a plain value may not contain ': '; put the value in quotes)",
        ),
        (
            "gpus:\n  - id: a\n    id: b\n",
            "line 3, column 5: invalid YAML: found duplicate key 'id'",
        ),
        (
            "- gpus\n",
            "the top level must be a mapping of section names to lists of entries, got a list",
        ),
        (
            "gpu: []\n",
            f"unknown section 'gpu' (did you mean 'gpus'?); valid sections are: {SECTIONS}",
        ),
        (
            "hardware: []\n",
            f"unknown section 'hardware'; valid sections are: {SECTIONS}",
        ),
        (
            "gpus:\n  id: a\n",
            "section 'gpus' must be a list of entries (each starting with '- '), got a mapping",
        ),
        (
            "gpus:\n  - h100\n",
            "gpus[0]: an entry must be a mapping of field names to values, got a string",
        ),
    ],
)
def test_file_level_errors(tmp_path: Path, content: str, expected_error: str) -> None:
    path = write(tmp_path, "bad.yaml", content)
    assert error_of(path) == f"catalog file {path} has 1 error:\n  {path}: {expected_error}"


def test_a_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("gpus: []\nnotes: caf\u00e9\n".encode("latin-1"))
    assert error_of(path).endswith(f"{path}: not UTF-8 text (invalid byte at offset 19)")


@pytest.mark.parametrize(
    ("section", "changes", "expected_error"),
    [
        ("gpus", {"memory_gb": -80}, ".memory_gb: Input should be greater than 0 (got -80)"),
        ("gpus", {"source": None}, ".source: required field is missing"),
        ("gpus", {"source": "x"}, ".source: String should have at least 3 characters (got 'x')"),
        ("gpus", {"memory_gib": 80}, ".memory_gib: unknown field; did you mean 'memory_gb'?"),
        ("gpus", {"zzz": 1}, ".zzz: unknown field; valid fields are: id, aliases, source, as_of, "),
        ("gpus", {"vendor": "intel"}, ".vendor: Input should be 'nvidia', 'amd' or 'apple' (got 'intel')"),
        ("gpus", {"as_of": "last year"}, ".as_of: Input should be a valid date or datetime"),
        (
            "gpus",
            {"aliases": ["ok", "H100"]},
            ".aliases[1]: 'H100' is not a valid id: use lower-case letters, digits, '.', '_' and '-', "
            "starting with a letter or digit",
        ),
        (
            "models",
            {"architecture": {**ARCHITECTURE, "num_key_value_heads": 7}},
            ".architecture: num_attention_heads must be a multiple of num_key_value_heads",
        ),
        (
            "models",
            {"architecture": {**ARCHITECTURE, "num_layers": 32}},
            ".architecture.num_layers: unknown field; did you mean 'num_hidden_layers'?",
        ),
        (
            "models",
            {"architecture": {k: v for k, v in ARCHITECTURE.items() if k != "head_dim"}},
            ".architecture.head_dim: required field is missing",
        ),
        ("models", {"params_active_b": 9}, ": params_active_b must not exceed params_total_b"),
        ("quantizations", {"engines": "vllm"}, ".engines: Input should be a list (got 'vllm')"),
        (
            "quantizations",
            {"platforms": ["cuda", "tpu"]},
            ".platforms[1]: Input should be 'cuda', 'rocm' or 'metal' (got 'tpu')",
        ),
        (
            "engines",
            {"compute_utilization": 1.5},
            ".compute_utilization: Input should be less than or equal to 1",
        ),
        (
            "rental_offers",
            {"pricing": "reserved"},
            ".pricing: Input should be 'on-demand', 'committed', 'spot' or 'marketplace' (got 'reserved')",
        ),
        (
            "apis",
            {"equivalent_model": "Llama 3"},
            ".equivalent_model: 'Llama 3' is not a valid id: use lower-case letters",
        ),
    ],
)
def test_entry_errors_name_file_section_index_id_and_field(
    tmp_path: Path, section: str, changes: dict[str, Any], expected_error: str
) -> None:
    other = entry(section, id="fine")
    path = write(tmp_path, "bad.yaml", {section: [other, entry(section, **changes)]})
    entry_id = VALID[section]["id"]
    message = error_of(path)
    assert message.startswith(f"catalog file {path} has 1 error:\n")
    assert f"\n  {path}: {section}[1] (id '{entry_id}'){expected_error}" in message


def test_an_entry_without_an_id_is_named_by_its_index(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", {"gpus": [entry("gpus", id=None)]})
    assert error_of(path).endswith(f"\n  {path}: gpus[0].id: required field is missing")


def test_an_invalid_id_is_still_shown_to_locate_the_entry(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", {"gpus": [entry("gpus", id="H100 SXM")]})
    assert f"{path}: gpus[0] (id 'H100 SXM').id: 'H100 SXM' is not a valid id" in error_of(path)


def test_a_duplicate_id_within_one_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", {"gpus": [entry("gpus"), entry("gpus", name="again")]})
    assert error_of(path).endswith(
        f"\n  {path}: gpus[1] (id 'test-gpu'): duplicate id; first defined at gpus[0]"
    )


def test_all_errors_in_a_file_are_reported_in_one_message(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        {
            "gpus": [entry("gpus", memory_gb=0), entry("gpus", id="ok-gpu")],
            "gpu_prices": [],
            "apis": [entry("apis", quality_tier="best", usd_per_mtok_output=-1)],
        },
    )
    assert error_of(path) == "\n".join(
        [
            f"catalog file {path} has 4 errors:",
            f"  {path}: gpus[0] (id 'test-gpu').memory_gb: Input should be greater than 0 (got 0)",
            f"  {path}: unknown section 'gpu_prices'; valid sections are: {SECTIONS}",
            f"  {path}: apis[0] (id 'test-api').usd_per_mtok_output: "
            "Input should be greater than or equal to 0 (got -1)",
            f"  {path}: apis[0] (id 'test-api').quality_tier: "
            "Input should be 'frontier', 'strong', 'mid' or 'small' (got 'best')",
        ]
    )


# --------------------------------------------------------------------------- merging and overlays


def test_the_builtin_files_load_and_merge_in_name_order() -> None:
    catalog = load_catalog(env={})
    assert ids(catalog.gpus) == ["h100-sxm", "l40s"]
    assert ids(catalog.rental_offers) == ["acme-h100-sxm"]
    assert ids(catalog.models) == ["llama-3.1-8b-instruct"]
    assert ids(catalog.quantizations) == ["bf16"]
    assert ids(catalog.engines) == ["vllm"]
    assert ids(catalog.apis) == ["acme-llama-8b"]  # api_prices.yaml refers to a model in models.yaml
    assert catalog.purchase_options == ()


def test_the_catalog_is_frozen() -> None:
    catalog = load_catalog(env={})  # plain frozen data (selfhost.catalog.entries), validated or cached
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.gpus = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        catalog.gpus[0].memory_gb = 1  # type: ignore[misc]


def test_an_overlay_can_reference_a_gpu_defined_in_another_file() -> None:
    catalog = load_catalog([OVERLAY], env={})
    assert ids(catalog.rental_offers) == ["acme-h100-sxm", "cheapcloud-l40s"]
    assert ids(catalog.purchase_options) == ["own-h100-sxm"]
    assert catalog.purchase_options[0].gpu == "h100-sxm"


def test_an_override_replaces_the_whole_entry_in_its_original_position(tmp_path: Path) -> None:
    gpu = entry("gpus", id="h100-sxm", memory_bandwidth_gb_s=3000)  # no fp8_tflops, no aliases
    overlay = write(tmp_path, "mine.yaml", {"gpus": [entry("gpus", id="b200"), gpu]})
    catalog = load_catalog([overlay], env={})
    assert ids(catalog.gpus) == ["h100-sxm", "l40s", "b200"]
    h100 = catalog.gpus[0]
    assert h100.memory_bandwidth_gb_s == 3000
    assert h100.fp8_tflops is None  # not merged field by field with the built-in entry
    assert h100.aliases == ()


def test_same_id_in_another_section_is_a_different_entry(tmp_path: Path) -> None:
    overlay = write(tmp_path, "mine.yaml", {"engines": [entry("engines", id="l40s")]})
    catalog = load_catalog([overlay], env={})
    assert ids(catalog.gpus) == ["h100-sxm", "l40s"]
    assert ids(catalog.engines) == ["vllm", "l40s"]


def offer_file(directory: Path, name: str, price: float) -> Path:
    """A catalog file that sets the price of the built-in offer 'acme-h100-sxm'."""
    return write(
        directory,
        name,
        {"rental_offers": [entry("rental_offers", id="acme-h100-sxm", usd_per_gpu_hour=price)]},
    )


def price(catalog: Any) -> float:
    return float(catalog.rental_offers[0].usd_per_gpu_hour)


def test_sources_apply_in_order_builtin_then_environment_then_overlays(tmp_path: Path) -> None:
    from_env = offer_file(tmp_path, "env.yaml", 3.0)
    from_flag = offer_file(tmp_path, "flag.yaml", 4.0)
    assert price(load_catalog(env={})) == 2.5
    assert price(load_catalog(env={"SELFHOST_CATALOG": str(from_env)})) == 3.0
    assert price(load_catalog([from_flag], env={"SELFHOST_CATALOG": str(from_env)})) == 4.0


def test_the_environment_variable_holds_several_paths(tmp_path: Path) -> None:
    first = offer_file(tmp_path, "first.yaml", 3.0)
    second = write(tmp_path, "second.yaml", {"gpus": [entry("gpus", id="b200")]})
    value = os.pathsep.join([str(first), "", str(second)])  # empty parts are ignored
    catalog = load_catalog(env={"SELFHOST_CATALOG": value})
    assert price(catalog) == 3.0
    assert ids(catalog.gpus) == ["h100-sxm", "l40s", "b200"]


def test_a_missing_path_in_the_environment_variable_says_where_it_came_from(tmp_path: Path) -> None:
    missing = tmp_path / "gone.yaml"
    with pytest.raises(CatalogError) as excinfo:
        load_catalog(env={"SELFHOST_CATALOG": str(missing)})
    assert str(excinfo.value) == f"catalog file '{missing}' (from SELFHOST_CATALOG) does not exist"


def test_a_missing_overlay_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"catalog file '.*gone\.yaml' does not exist"):
        load_catalog([tmp_path / "gone.yaml"], env={})


def test_a_directory_overlay_reads_its_yaml_files_in_name_order(tmp_path: Path) -> None:
    offer_file(tmp_path, "b.yml", 4.0)
    offer_file(tmp_path, "a.yaml", 3.0)
    write(tmp_path, "notes.txt", "not a catalog")
    write(tmp_path, ".draft.yaml", "not: [valid")  # hidden files are skipped
    (tmp_path / "sub").mkdir()
    offer_file(tmp_path / "sub", "z.yaml", 9.0)  # not recursive
    assert price(load_catalog([tmp_path], env={})) == 4.0
    assert price(load_catalog(env={"SELFHOST_CATALOG": str(tmp_path)})) == 4.0


def test_a_directory_overlay_without_catalog_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "prices.json", "{}")
    with pytest.raises(CatalogError) as excinfo:
        load_catalog([tmp_path], env={})
    assert str(excinfo.value) == f"catalog directory '{tmp_path}' contains no *.yaml or *.yml files"


def test_without_builtin_only_the_given_files_are_read() -> None:
    catalog = load_catalog([BUILTIN / "gpu_prices.yaml"], env={}, include_builtin=False)
    assert ids(catalog.gpus) == ["h100-sxm", "l40s"]
    assert catalog.models == ()


def test_errors_of_several_files_are_reported_together(tmp_path: Path) -> None:
    first = write(tmp_path, "first.yaml", {"gpus": [entry("gpus", power_w=0)]})
    second = write(tmp_path, "second.yaml", "models: 3\n")
    with pytest.raises(CatalogError) as excinfo:
        load_catalog([first, second], env={})
    assert str(excinfo.value) == "\n".join(
        [
            "the catalog has 2 errors:",
            f"  {first}: gpus[0] (id 'test-gpu').power_w: Input should be greater than 0 (got 0)",
            f"  {second}: section 'models' must be a list of entries (each starting with '- '), got a number",
        ]
    )


# --------------------------------------------------------------------------- cross-references


@pytest.mark.parametrize(
    ("section", "changes", "expected_error"),
    [
        (
            "rental_offers",
            {"gpu": "h100-sxn"},
            ".gpu: unknown id 'h100-sxn' (not in section 'gpus'); did you mean 'h100-sxm'?",
        ),
        (
            "rental_offers",
            {"gpu": "h100"},
            ".gpu: unknown id 'h100' (not in section 'gpus'); 'h100' is an alias of 'h100-sxm'; "
            "references must use the id",
        ),
        (
            "purchase_options",
            {"gpu": "mi300x"},
            ".gpu: unknown id 'mi300x' (not in section 'gpus'); add it there or fix the id",
        ),
        (
            "apis",
            {"equivalent_model": "llama-3.1-8b"},
            ".equivalent_model: unknown id 'llama-3.1-8b' (not in section 'models'); "
            "did you mean 'llama-3.1-8b-instruct'?",
        ),
        (
            "quantizations",
            {"engines": ["vllm", "sglang"]},
            ".engines[1]: unknown id 'sglang' (not in section 'engines'); add it there or fix the id",
        ),
    ],
)
def test_references_must_name_existing_ids(
    tmp_path: Path, section: str, changes: dict[str, Any], expected_error: str
) -> None:
    path = write(tmp_path, "mine.yaml", {section: [entry(section, **changes)]})
    with pytest.raises(CatalogError) as excinfo:
        load_catalog([path], env={})
    entry_id = VALID[section]["id"]
    assert str(excinfo.value) == (
        f"the catalog has 1 error:\n  {path}: {section}[0] (id '{entry_id}'){expected_error}"
    )


def test_valid_references_to_entries_of_the_same_file_pass(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mine.yaml",
        {
            "gpus": [entry("gpus", id="b200")],
            "rental_offers": [entry("rental_offers", gpu="b200")],
            "models": [entry("models")],
            "apis": [entry("apis", equivalent_model="test-model")],
        },
    )
    catalog = load_catalog([path], env={}, include_builtin=False)
    assert catalog.rental_offers[0].gpu == "b200"


def test_a_reference_to_an_invalid_entry_is_not_reported_as_unknown_too(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mine.yaml",
        {
            "gpus": [entry("gpus", id="b200", memory_gb=0)],
            "rental_offers": [entry("rental_offers", gpu="b200")],
        },
    )
    with pytest.raises(CatalogError) as excinfo:
        load_catalog([path], env={})
    assert str(excinfo.value) == (
        f"the catalog has 1 error:\n  {path}: gpus[0] (id 'b200').memory_gb: "
        "Input should be greater than 0 (got 0)"
    )


@pytest.mark.parametrize(
    ("gpu", "expected_error"),
    [
        (
            entry("gpus", aliases=["l40s"]),
            ".aliases[0]: alias 'l40s' is already the id of 'l40s' ({builtin}); remove or rename it",
        ),
        (
            entry("gpus", aliases=["h100"]),
            ".aliases[0]: alias 'h100' is already the alias of 'h100-sxm' ({builtin}); remove or rename it",
        ),
        (
            entry("gpus", aliases=["fine", "h100_sxm"]),  # lookups read '_' as '-'
            ".aliases[1]: alias 'h100_sxm' is already the id of 'h100-sxm' ({builtin}); remove or rename it",
        ),
        (
            entry("gpus", id="l40s_"),
            None,  # no clash: 'l40s-' differs from 'l40s'
        ),
        (
            entry("gpus", id="h100_sxm"),
            ".id: 'h100_sxm' cannot be told apart from id 'h100-sxm' ({builtin}) in lookups; rename one",
        ),
    ],
)
def test_ids_and_aliases_must_be_unambiguous_within_a_section(
    tmp_path: Path, gpu: dict[str, Any], expected_error: str | None
) -> None:
    path = write(tmp_path, "mine.yaml", {"gpus": [gpu]})
    if expected_error is None:
        load_catalog([path], env={})
        return
    with pytest.raises(CatalogError) as excinfo:
        load_catalog([path], env={})
    expected = expected_error.format(builtin=BUILTIN / "gpu_prices.yaml")
    assert str(excinfo.value) == f"the catalog has 1 error:\n  {path}: gpus[0] (id '{gpu['id']}'){expected}"


def test_harmless_aliases_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mine.yaml",
        {
            # an alias equal to the entry's own id (after normalizing), repeated aliases, and
            # an alias equal to an id in another section are all unambiguous
            "gpus": [entry("gpus", id="h100-sxm", aliases=["h100", "h100_sxm", "h100"])],
            "engines": [entry("engines", aliases=["l40s"])],
        },
    )
    catalog = load_catalog([path], env={})
    assert catalog.gpus[0].aliases == ("h100", "h100_sxm", "h100")


# --------------------------------------------------------------------------- validate_paths


def test_validate_paths_accepts_an_overlay_that_references_builtin_entries() -> None:
    assert validate_paths([OVERLAY]) == []


def test_validate_paths_accepts_directories(tmp_path: Path) -> None:
    offer_file(tmp_path, "a.yaml", 3.0)
    assert validate_paths([tmp_path, OVERLAY]) == []


def test_validate_paths_returns_every_error_instead_of_raising(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", {"gpus": [entry("gpus", vendor="intel")]})
    dangling = write(tmp_path, "dangling.yaml", {"rental_offers": [entry("rental_offers", gpu="mi300x")]})
    assert validate_paths([bad, dangling]) == [
        f"{bad}: gpus[0] (id 'test-gpu').vendor: Input should be 'nvidia', 'amd' or 'apple' (got 'intel')",
        f"{dangling}: rental_offers[0] (id 'test-offer').gpu: unknown id 'mi300x' (not in section 'gpus'); "
        "add it there or fix the id",
    ]


def test_validate_paths_reports_yaml_errors_as_lines(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "gpus: [\n")
    assert validate_paths([bad]) == [
        f"{bad}: line 2, column 1: invalid YAML: did not find expected node content"
    ]


def test_validate_paths_raises_for_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="does not exist"):
        validate_paths([tmp_path / "gone.yaml"])


# --------------------------------------------------------------------------- the built-in catalog


def test_builtin_data_dir_is_data_in_the_checkout_or_inside_the_installed_package() -> None:
    module = Path(loader.__file__).resolve()
    from_source = module.is_relative_to(REPO_DATA.parent / "src")
    expected = REPO_DATA if from_source else module.parents[1] / "data"  # selfhost/data in a wheel
    assert _real_builtin_data_dir().resolve() == expected


def test_a_missing_builtin_data_dir_is_a_broken_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(loader, "__file__", str(tmp_path / "a" / "b" / "c" / "loader.py"))
    with pytest.raises(CatalogError, match=r"the built-in catalog is missing .* installation is broken"):
        _real_builtin_data_dir()


def test_the_builtin_catalog_loads_and_is_consistent(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real data/ files: valid, cross-referenced, with the sections the commands need."""
    monkeypatch.setattr(loader, "builtin_data_dir", _real_builtin_data_dir)
    names = {p.name for p in _real_builtin_data_dir().iterdir()}
    assert {"gpu_prices.yaml", "models.yaml", "api_prices.yaml", "engines.yaml"} <= names
    catalog = load_catalog(env={})
    for section in ("gpus", "rental_offers", "models", "quantizations", "engines", "apis"):
        assert getattr(catalog, section), f"built-in catalog has no {section}"
