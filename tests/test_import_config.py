"""`selfhost catalog import-config`: entries built from real config.json files, and --into overlays.

The configs are the copies in tests/fixtures/hf_configs (provenance in its README.md). Published
parameter counts are checked within 1 % unless a comment says why not.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

from selfhost.catalog.architecture import count_params_for, kv_bytes_per_token_for
from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import by_id
from selfhost.catalog.schema import Model

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf_configs"
B = 1e9  # params per billion
Cli = Callable[..., Result]

LLAMA_8B = FIXTURES / "meta-llama__Llama-3.1-8B-Instruct.json"
MIXTRAL = FIXTURES / "mistralai__Mixtral-8x7B-Instruct-v0.1.json"
DEEPSEEK_V3 = FIXTURES / "deepseek-ai__DeepSeek-V3.json"

PUBLISHED = [
    # file, total [1e9], active [1e9] (None: dense), relative tolerance of active
    # Llama-3.1-8B: HF model page "8.03B params"
    ("meta-llama__Llama-3.1-8B-Instruct.json", 8.03, None, 0.01),
    # Llama-2-70B: HF and llama.cpp count 68.98B ("69.0B")
    ("meta-llama__Llama-2-70b-hf.json", 69.0, None, 0.01),
    # Qwen2.5-7B-Instruct card: 7.61B ("7.6B")
    ("Qwen__Qwen2.5-7B-Instruct.json", 7.6, None, 0.01),
    # Mistral AI, "Mixtral of experts": 46.7B total, 12.9B used per token
    ("mistralai__Mixtral-8x7B-Instruct-v0.1.json", 46.7, 12.9, 0.01),
    # DeepSeek-V3 README_WEIGHTS.md: 671B main model; 37B active (paper). The config gives
    # 37.55B, README_WEIGHTS says 36.7B: 2 %, see test_params.test_deepseek_v3_total_active_and_mtp
    ("deepseek-ai__DeepSeek-V3.json", 671.0, 37.0, 0.02),
    # Qwen3-30B-A3B card: 30.5B / 3.3B; the config gives 3.353B, the card truncates: 2 %
    ("Qwen__Qwen3-30B-A3B.json", 30.5, 3.3, 0.02),
    # Qwen3-235B-A22B card: 235B total, 22B activated
    ("Qwen__Qwen3-235B-A22B.json", 235.0, 22.0, 0.01),
    # Qwen3-8B / 32B cards: 8.2B / 32.8B; DeepSeek-R1 is DeepSeek-V3's architecture (2 %, as V3)
    ("Qwen__Qwen3-8B.json", 8.2, None, 0.01),
    ("Qwen__Qwen3-32B.json", 32.8, None, 0.01),
    ("deepseek-ai__DeepSeek-R1.json", 671.0, 37.0, 0.02),
    # gpt-oss model card: 116.83B / 20.91B total; its 5.13B / 3.61B active leave out the input
    # embedding (0.58B), which selfhost counts as active: 5.71B / 4.19B
    ("openai__gpt-oss-120b.json", 116.83, 5.13 + 0.579, 0.01),
    ("openai__gpt-oss-20b.json", 20.91, 3.61 + 0.579, 0.01),
    # Llama 4 model card: 109B / 400B total, 17B active, vision encoder (0.87B) included; the
    # import counts the text model (107.77B / 400.71B): 1.2 % and 0.2 % below
    ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", 109.0 - 0.872, 17.0, 0.02),
    ("meta-llama__Llama-4-Maverick-17B-128E-Instruct.json", 400.0, 17.0, 0.02),
]


def imported(result: Result) -> Model:
    """The one model entry of a successful import-config run's YAML output, validated."""
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.stdout)
    assert list(document) == ["models"]
    (entry,) = document["models"]
    return Model.model_validate(entry)


# --------------------------------------------------------------------------- entries from real configs


def test_published_list_covers_every_fixture() -> None:
    assert sorted(name for name, *_ in PUBLISHED) == sorted(p.name for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize(("name", "total_b", "active_b", "active_rel"), PUBLISHED)
def test_imported_entry_validates_and_matches_published_counts(
    cli: Cli, name: str, total_b: float, active_b: float | None, active_rel: float
) -> None:
    model = imported(cli("catalog", "import-config", str(FIXTURES / name), "--id", "imported"))
    assert model.params_total_b == pytest.approx(total_b, rel=0.01)
    expected_active = total_b if active_b is None else active_b
    assert model.params_active_b == pytest.approx(expected_active, rel=active_rel)
    # the rounded figures are the shared count of the entry's own architecture, to 4 digits
    counts = count_params_for(model.architecture)
    assert model.params_total_b == pytest.approx(counts.total / B, rel=5e-4)
    assert model.params_active_b == pytest.approx(counts.active / B, rel=5e-4)
    config = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert model.max_context_tokens == config.get("text_config", config)["max_position_embeddings"]
    assert model.architecture.hf_architecture == config["architectures"][0]


def test_entry_fields_and_provenance(cli: Cli) -> None:
    model = imported(cli("catalog", "import-config", str(LLAMA_8B), "--id", "my-llama-8b"))
    assert model.id == "my-llama-8b"
    assert model.params_total_b == 8.03  # 8,030,261,248 params to 4 significant digits
    assert model.native_dtype == "bf16"
    assert model.max_context_tokens == 131072  # rope_scaling llama3, factor 8
    assert model.confirmed is False
    assert model.as_of == dt.date.today()
    assert model.source == f"config.json at {LLAMA_8B} (imported {dt.date.today().isoformat()})"
    # not in config.json: marked defaults
    assert (model.license, model.license_allows_production, model.quality_tier) == ("unknown", False, "mid")
    assert (
        "Defaults, not facts: license (unknown), license_allows_production (false), quality_tier (mid)"
        in (model.notes)
    )


def test_user_supplied_fields_are_used_and_noted(cli: Cli) -> None:
    args = [
        *("--name", "Llama 3.1 8B Instruct", "--hf-repo", "meta-llama/Llama-3.1-8B-Instruct"),
        *("--license", "Llama 3.1 Community License", "--production", "--quality-tier", "small"),
    ]
    model = imported(cli("catalog", "import-config", str(LLAMA_8B), "--id", "l8", *args))
    assert model.name == "Llama 3.1 8B Instruct"
    assert model.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"
    assert (model.license, model.license_allows_production, model.quality_tier) == (
        "Llama 3.1 Community License",
        True,
        "small",
    )
    assert "User-supplied, not checked: license, license_allows_production, quality_tier." in model.notes
    assert "Defaults" not in model.notes


def test_hf_repo_and_name_default_to_name_or_path(cli: Cli) -> None:
    # Llama-2-70b-hf config.json carries "_name_or_path": "meta-llama/Llama-2-70b-hf"
    model = imported(
        cli("catalog", "import-config", str(FIXTURES / "meta-llama__Llama-2-70b-hf.json"), "--id", "l2")
    )
    assert model.hf_repo == "meta-llama/Llama-2-70b-hf"
    assert model.name == "Llama-2-70b-hf"


def test_deepseek_v3_is_fp8_with_mtp_and_router_bias(cli: Cli) -> None:
    result = cli("catalog", "import-config", str(DEEPSEEK_V3), "--id", "ds")
    model = imported(result)
    # config.json says torch_dtype bfloat16 but quantization_config quant_method fp8 (E4M3)
    assert model.native_dtype == "fp8"
    assert model.architecture.num_nextn_predict_layers == 1  # one MTP module
    assert model.architecture.moe is not None and model.architecture.moe.router_score_bias
    assert "multi-token-prediction" in model.notes
    # KV: 61 layers x (512 + 64) x 2 bytes = 70,272 bytes/token (facts §1.2: 68.6 KiB)
    assert "KV cache 70,272 bytes/token in BF16" in result.stderr
    assert "context 163,840 tokens" in result.stderr


def test_summary_on_stderr_has_kv_and_context(cli: Cli) -> None:
    result = cli("catalog", "import-config", str(LLAMA_8B), "--id", "l8")
    assert result.exit_code == 0, result.output
    # 2 (K, V) x 32 layers x 8 KV heads x 128 x 2 bytes = 131,072 bytes/token
    assert "KV cache 131,072 bytes/token in BF16 (128 KiB; 32 layers, 8 KV heads x 128)" in result.stderr
    assert "context 131,072 tokens" in result.stderr
    assert "KV cache" not in result.stdout


def test_yaml_output_round_trips_to_the_same_entry(cli: Cli) -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        yaml_model = imported(cli("catalog", "import-config", str(path), "--id", "x"))
        result = cli("catalog", "import-config", str(path), "--id", "x", "--format", "json")
        assert result.exit_code == 0, result.output
        json_model = Model.model_validate(json.loads(result.stdout)["models"][0])
        assert yaml_model == json_model, path.name


# --------------------------------------------------------------------------- the catalog's own entries


@pytest.mark.parametrize(
    ("model_id", "total_b"),
    [
        # facts §1.1: 70.55B, matching llama.cpp's "model params = 70.55 B"
        ("llama-3.3-70b", 70.55),
        # Qwen2.5-72B-Instruct card: 72.7B
        ("qwen2.5-72b", 72.7),
        # DeepSeek-V3 README_WEIGHTS.md: 671B main model
        ("deepseek-v3", 671.0),
    ],
)
def test_catalog_entries_agree_with_the_shared_count(model_id: str, total_b: float) -> None:
    model = by_id(load_catalog().models)[model_id]
    counts = count_params_for(model.architecture)
    assert counts.total / B == pytest.approx(total_b, rel=0.001)
    assert model.params_total_b == pytest.approx(counts.total / B, rel=0.001)
    if model.architecture.moe is None:
        assert model.params_active_b == pytest.approx(counts.active / B, rel=0.001)
    else:
        # deepseek-v3 keeps the published 37B; the architecture gives 37.55B (see PUBLISHED)
        assert model.params_active_b == pytest.approx(counts.active / B, rel=0.02)


def test_imported_deepseek_v3_has_the_catalog_architecture(cli: Cli) -> None:
    catalog_model = by_id(load_catalog().models)["deepseek-v3"]
    model = imported(cli("catalog", "import-config", str(DEEPSEEK_V3), "--id", "ds"))
    # the catalog entry does not list the MTP module (outside params_total_b either way)
    imported_arch = model.architecture.model_copy(update={"num_nextn_predict_layers": 0})
    assert imported_arch.model_dump() == catalog_model.architecture.model_dump()
    assert count_params_for(model.architecture).total == count_params_for(catalog_model.architecture).total
    assert kv_bytes_per_token_for(model.architecture) == kv_bytes_per_token_for(catalog_model.architecture)


# --------------------------------------------------------------------------- --into


def test_into_creates_a_new_overlay_that_crossover_loads(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    result = cli("catalog", "import-config", str(MIXTRAL), "--id", "my-mixtral", "--into", str(overlay))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"created {overlay} with model 'my-mixtral'" in result.stderr
    assert load_catalog([overlay]).models[-1].id == "my-mixtral"
    run = cli("crossover", "--catalog", str(overlay), "-m", "my-mixtral", "--rps", "1")
    assert run.exit_code == 0, run.output
    assert "my-mixtral" in run.stdout


def test_into_appends_to_an_existing_file_keeping_its_text(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    first = cli("catalog", "import-config", str(LLAMA_8B), "--id", "first", "--into", str(overlay))
    assert first.exit_code == 0, first.output
    offer = (
        "# my negotiated price\n"
        "rental_offers:\n"
        "  - id: my-h100  # inline comment\n"
        "    provider: Me\n"
        "    gpu: h100-sxm-80gb\n"
        "    usd_per_gpu_hour: 1.5\n"
        "    source: my contract\n"
        "    as_of: 2026-11-01\n"
    )
    before = overlay.read_text(encoding="utf-8").replace("models:\n", "# models I use\nmodels:\n") + (
        "\n# ---- offers ----\n" + offer
    )
    overlay.write_text(before, encoding="utf-8")
    result = cli("catalog", "import-config", str(MIXTRAL), "--id", "second", "--into", str(overlay))
    assert result.exit_code == 0, result.output
    assert "added model 'second' at the end of the models section" in result.stderr
    after = overlay.read_text(encoding="utf-8")
    # the old text is untouched: the new entry is inserted as one block before the offers' comment
    head, sep, tail = before.partition("\n# ---- offers ----\n")
    assert after.startswith(head)
    assert after.endswith(sep + tail)
    assert after.count("- id: second") == 1
    catalog = load_catalog([overlay])
    assert [m.id for m in catalog.models][-2:] == ["first", "second"]
    assert catalog.rental_offers[-1].id == "my-h100"
    run = cli("crossover", "--catalog", str(overlay), "-m", "second", "--rps", "1")
    assert run.exit_code == 0, run.output


def test_into_appends_to_a_copy_of_the_builtin_models_file(cli: Cli, tmp_path: Path) -> None:
    # a long file with comments, folded notes and a second section after models
    overlay = tmp_path / "models.yaml"
    shutil.copy(Path(__file__).resolve().parents[1] / "data" / "models.yaml", overlay)
    before = yaml.safe_load(overlay.read_text(encoding="utf-8"))
    result = cli("catalog", "import-config", str(DEEPSEEK_V3), "--id", "ds-copy", "--into", str(overlay))
    assert result.exit_code == 0, result.output
    after = yaml.safe_load(overlay.read_text(encoding="utf-8"))
    assert after["models"][:-1] == before["models"]
    assert after["models"][-1]["id"] == "ds-copy"
    assert {k: v for k, v in after.items() if k != "models"} == {
        k: v for k, v in before.items() if k != "models"
    }


def test_into_refuses_a_duplicate_id_and_leaves_the_file_byte_identical(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    assert (
        cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay)).exit_code == 0
    )
    before = overlay.read_bytes()
    result = cli("catalog", "import-config", str(MIXTRAL), "--id", "mine", "--into", str(overlay))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert "already has a model with id 'mine'" in result.stderr
    assert "--id" in result.stderr
    assert overlay.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]  # no temp file left


def test_into_refuses_an_id_that_is_an_alias_in_the_file(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    assert (
        cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay)).exit_code == 0
    )
    text = overlay.read_text(encoding="utf-8").replace("aliases: []", "aliases: [other]")
    overlay.write_text(text, encoding="utf-8")
    result = cli("catalog", "import-config", str(MIXTRAL), "--id", "other", "--into", str(overlay))
    assert result.exit_code == 2
    assert "model 'mine' with id or alias 'other'" in result.stderr
    assert overlay.read_text(encoding="utf-8") == text


def test_into_leaves_the_file_untouched_when_the_result_would_be_invalid(cli: Cli, tmp_path: Path) -> None:
    # 'llama-70b' is an alias of the built-in llama-3.3-70b: the loader would reject the new id
    overlay = tmp_path / "mine.yaml"
    assert (
        cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay)).exit_code == 0
    )
    before = overlay.read_bytes()
    result = cli("catalog", "import-config", str(MIXTRAL), "--id", "llama-70b", "--into", str(overlay))
    assert result.exit_code == 2
    assert "would not be a valid catalog with the new entry, so it was left unchanged" in result.stderr
    assert "llama-70b" in result.stderr
    assert str(overlay) in result.stderr and ".tmp" not in result.stderr
    assert overlay.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.yaml"]


@pytest.mark.parametrize(
    ("before", "how"),
    [
        ("", "appended"),  # empty file
        ("# only a comment\n", "appended"),
        ("models:\n", "appended"),  # a null section
        ("models:\n# more later\napis: []\n", "appended"),
        ("apis: []\n", "appended"),  # no models section yet
        ("models: []\n", "rewritten"),  # flow style, no comments: re-dumped
    ],
)
def test_into_small_files(cli: Cli, tmp_path: Path, before: str, how: str) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_text(before, encoding="utf-8")
    result = cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay))
    assert result.exit_code == 0, result.output
    assert ("re-dumped" in result.stderr) == (how == "rewritten")
    after = overlay.read_text(encoding="utf-8")
    if how == "appended":
        for line in before.splitlines():
            assert line in after
    assert [m.id for m in load_catalog([overlay]).models][-1] == "mine"


def test_into_refuses_to_rewrite_a_file_with_comments(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_text("# keep me\nmodels: []\n", encoding="utf-8")
    result = cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay))
    assert result.exit_code == 2
    assert "without losing its comments" in result.stderr
    assert overlay.read_text(encoding="utf-8") == "# keep me\nmodels: []\n"


def test_into_keeps_crlf_line_endings(cli: Cli, tmp_path: Path) -> None:
    overlay = tmp_path / "mine.yaml"
    overlay.write_bytes(b"# mine\r\nmodels:\r\n")
    result = cli("catalog", "import-config", str(LLAMA_8B), "--id", "mine", "--into", str(overlay))
    assert result.exit_code == 0, result.output
    data = overlay.read_bytes()
    assert data.startswith(b"# mine\r\nmodels:\r\n  - id: mine\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_into_a_missing_directory(cli: Cli, tmp_path: Path) -> None:
    result = cli(
        "catalog", "import-config", str(LLAMA_8B), "--id", "m", "--into", str(tmp_path / "no" / "x.yaml")
    )
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


# --------------------------------------------------------------------------- errors


def write_config(tmp_path: Path, config: dict[str, Any] | str) -> Path:
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config), encoding="utf-8")
    return path


def llama_config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(LLAMA_8B.read_text(encoding="utf-8"))
    return config


@pytest.mark.parametrize(
    ("config", "args", "expected"),
    [
        (
            {**llama_config(), "architectures": ["GPT2LMHeadModel"]},
            (),
            "unsupported architecture 'GPT2LMHeadModel' in config.json; supported: LlamaForCausalLM",
        ),
        ('{"architectures": ["LlamaForCausalLM"],', (), "is not valid JSON (line 1"),
        ("[1, 2]", (), "expected a JSON object"),
        (
            {k: v for k, v in llama_config().items() if k != "vocab_size"},
            (),
            "config.json (LlamaForCausalLM) is missing required key 'vocab_size'",
        ),
        (
            {k: v for k, v in llama_config().items() if k != "max_position_embeddings"},
            (),
            "missing required key 'max_position_embeddings'",
        ),
        (llama_config(), ("--quality-tier", "best"), "unknown --quality-tier 'best'; use one of: frontier"),
        (llama_config(), ("--id", "Not Valid"), "the imported model entry is invalid: id:"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    cli: Cli, tmp_path: Path, config: dict[str, Any] | str, args: tuple[str, ...], expected: str
) -> None:
    path = write_config(tmp_path, config)
    result = cli("catalog", "import-config", str(path), "--id", "m", *args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr


def test_missing_config_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("catalog", "import-config", str(tmp_path / "config.json"), "--id", "m")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_builtin_id_gets_a_note(cli: Cli) -> None:
    result = cli("catalog", "import-config", str(LLAMA_8B), "--id", "llama-3.3-70b")
    assert result.exit_code == 0, result.output
    assert "note: 'llama-3.3-70b' is a built-in model id" in result.stderr
