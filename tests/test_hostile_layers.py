"""Layer counts without per-layer loops: a model with a trillion layers is counted in constant
time or refused with the limit named, never walked layer by layer (issue 11, "unbounded work")."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

from bounds import assert_one_error, deadline
from selfhost.catalog.schema import MAX_LAYERS
from selfhost.engine.params import _residue_count, count_params

CONFIGS = Path(__file__).parent / "fixtures" / "hf_configs"
DATA = Path(__file__).resolve().parents[1] / "data"


def moe_layers_by_walking(L: int, first_k: int, freq: int, step: int, mlp_only: set[int]) -> int:
    """The rule as the modeling files state it, layer by layer (the reference)."""
    return sum(
        1 for i in range(L) if i >= first_k and i % freq == 0 and (i + 1) % step == 0 and i not in mlp_only
    )


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, 60),
    length=st.integers(0, 200),
    freq=st.integers(1, 12),
    step=st.integers(1, 12),
)
def test_residue_count_equals_walking_the_layers(start: int, length: int, freq: int, step: int) -> None:
    stop = start + length
    walked = sum(1 for i in range(start, stop) if i % freq == 0 and (i + 1) % step == 0)
    assert _residue_count(start, stop, freq, step) == walked


SMALL = dict(
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    vocab_size=100,
    tie_word_embeddings=False,
    qkv_bias=False,
)


@settings(max_examples=150, deadline=None)
@given(
    layers=st.integers(1, 80),
    first_k=st.integers(0, 10),
    freq=st.integers(1, 4),
    step=st.integers(1, 4),
    mlp_only=st.sets(st.integers(0, 90), max_size=6),
    mtp=st.integers(0, 3),
)
def test_moe_parameter_counts_equal_the_per_layer_rule(
    layers: int, first_k: int, freq: int, step: int, mlp_only: set[int], mtp: int
) -> None:
    counts = count_params(
        num_hidden_layers=layers,
        **SMALL,
        moe_n_routed_experts=8,
        moe_num_experts_per_tok=2,
        moe_n_shared_experts=1,
        moe_intermediate_size=32,
        moe_first_k_dense_replace=first_k,
        moe_layer_freq=freq,
        moe_decoder_sparse_step=step,
        moe_mlp_only_layers=mlp_only,
        mtp_num_layers=mtp,
    )
    dense = count_params(num_hidden_layers=layers, **SMALL, mtp_num_layers=mtp)
    n_moe = moe_layers_by_walking(layers, first_k, freq, step, mlp_only)
    expert = 3 * 64 * 32
    assert counts.mlp_experts_routed == n_moe * 8 * expert
    assert counts.mlp_dense == (layers - n_moe) * dense.mlp_dense // layers
    mtp_moe = moe_layers_by_walking(layers + mtp, max(first_k, layers), freq, step, mlp_only)
    moe_mlp = 9 * expert + 64 * 8
    assert counts.mtp == dense.mtp + mtp_moe * (moe_mlp - dense.mlp_dense // layers)


def test_a_trillion_layers_are_counted_by_arithmetic() -> None:
    with deadline(30):
        counts = count_params(
            num_hidden_layers=10**12,
            **SMALL,
            moe_n_routed_experts=8,
            moe_num_experts_per_tok=2,
            moe_intermediate_size=32,
            moe_decoder_sparse_step=2,
            mtp_num_layers=10**12,
        )
    assert counts.mlp_experts_routed == (10**12 // 2) * 8 * 3 * 64 * 32


@pytest.mark.parametrize(
    ("fixture", "edit"),
    [
        ("meta-llama__Llama-3.1-8B-Instruct.json", {"num_hidden_layers": 10**12}),
        ("openai__gpt-oss-20b.json", {"num_hidden_layers": 10**12, "layer_types": None}),
        ("meta-llama__Llama-4-Scout-17B-16E-Instruct.json", {"text_config.num_hidden_layers": 10**12}),
        (
            "meta-llama__Llama-4-Maverick-17B-128E-Instruct.json",
            {"text_config.num_hidden_layers": 10**12, "text_config.moe_layers": [1, 3]},
        ),
    ],
)
def test_import_config_refuses_a_trillion_layers_naming_the_limit(
    cli: Callable[..., Result], tmp_path: Path, fixture: str, edit: dict[str, object]
) -> None:
    config = json.loads((CONFIGS / fixture).read_text(encoding="utf-8"))
    for dotted, value in edit.items():
        *parents, key = dotted.split(".")
        target = config
        for parent in parents:
            target = target[parent]
        target[key] = value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    with deadline(60):
        result = cli("catalog", "import-config", str(path), "--id", "deep", "--license", "x")
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, "num_hidden_layers", f"{MAX_LAYERS:,}")


def test_an_overlay_with_a_trillion_layers_is_refused_before_any_question(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    models = yaml.safe_load((DATA / "models.yaml").read_text(encoding="utf-8"))["models"]
    model = next(m for m in models if m["id"] == "llama-3.1-8b")
    model = {
        **model,
        "id": "deep-llama",
        "aliases": [],
        "architecture": {**model["architecture"], "num_hidden_layers": 10**12},
    }
    overlay = tmp_path / "deep.yaml"
    overlay.write_text(yaml.safe_dump({"models": [model]}), encoding="utf-8")
    with deadline(60):
        result = cli("crossover", "--rps", "5", "-m", "deep-llama", "--catalog", str(overlay))
    assert result.exit_code == 2, result.output
    assert_one_error(result.stderr, "architecture.num_hidden_layers", f"{MAX_LAYERS}")
