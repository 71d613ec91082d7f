"""Memory and fit, checked against the hand arithmetic in shared/reference/facts.md."""

import numpy as np
import pytest

from selfhost.engine.memory import (
    CONTEXT_TOO_LARGE,
    FITS,
    WEIGHTS_TOO_LARGE,
    fit_verdict,
    kv_capacity_tokens,
    kv_replication_factor,
    max_concurrent_sequences,
    usable_memory_bytes,
    weight_bytes,
)

GIB = 2**30
# Llama-3.3-70B: 70.55e9 params; embedding and untied lm_head are 128256 x 8192 each (facts.md §1.1)
LLAMA70_PARAMS = 70.554e9
LLAMA70_EMB = 128256 * 8192


def test_llama_70b_bf16_weights_are_141_gb():
    # facts.md §6: "BF16 70B weights = 141.1 GB"
    assert weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 16, 16, 16) == pytest.approx(
        141.1e9, rel=1e-3
    )


def test_llama_70b_awq_int4_keeps_embeddings_in_fp16():
    # facts.md §5.2: AWQ g128 = 4.156 bits on linear layers, embeddings/lm_head FP16 -> ~39.8 GB
    assert weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 4.156, 16, 16) == pytest.approx(
        39.8e9, rel=5e-3
    )


def test_llama_70b_q4_k_m_matches_the_gguf_file_size():
    # facts.md §5.1: Llama-3.3-70B Q4_K_M file is 42.5 GB (Q4_K body, Q4_K token_embd, Q6_K output)
    assert weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 4.80, 4.5, 6.5625) == pytest.approx(
        42.5e9, rel=5e-3
    )


def test_tied_embeddings_count_once():
    untied = weight_bytes(1.0e9, 1.0e8, 1.0e8, 4, 16, 16)
    tied = weight_bytes(1.0e9, 1.0e8, 0.0, 4, 16, 16)
    assert untied - tied == pytest.approx(1.0e8 * (16 - 4) / 8)


def test_h100_budget_at_vllm_090_matches_facts():
    # facts.md §6: H100 = 79.6 GiB reported; at 0.9 the budget is 71.7 GiB
    usable = usable_memory_bytes(1, 81_559 * 2**20, 1.0, 0.90, 0.0)
    assert usable / GIB == pytest.approx(71.7, abs=0.05)


def test_usable_memory_scales_with_gpus_and_never_goes_negative():
    usable = usable_memory_bytes(np.array([1, 2, 4]), 80e9, 1.0, 0.9, 2e9)
    assert usable.tolist() == pytest.approx([70e9, 140e9, 280e9])
    assert usable_memory_bytes(1, 1e9, 1.0, 0.5, 2e9) == 0.0


def test_apple_exposes_three_quarters_of_unified_memory():
    # facts.md §2: a 64 GB Mac's default Metal working set is 48 GiB (75 %)
    assert usable_memory_bytes(1, 64 * GIB, 0.75, 1.0, 0.0) == pytest.approx(48 * GIB)


def test_kv_capacity_and_concurrency_for_llama_70b_awq_on_one_h100():
    # facts.md §6: ~30 GiB free after weights and ~4 GiB overhead -> ~100K tokens at 320 KiB/token
    usable = usable_memory_bytes(1, 81_559 * 2**20, 1.0, 0.90, 4 * GIB)
    tokens = kv_capacity_tokens(usable, 39.8e9, 327_680)
    assert 95_000 < tokens < 105_000
    assert max_concurrent_sequences(tokens, 32_768) == 3


def test_weights_larger_than_memory_leave_no_kv():
    assert kv_capacity_tokens(10e9, 20e9, 1000) == 0.0


@pytest.mark.parametrize(
    ("usable", "weights", "kv_tokens", "context", "verdict"),
    [
        (80e9, 40e9, 100_000, 32_768, FITS),
        (80e9, 90e9, 0, 32_768, WEIGHTS_TOO_LARGE),
        (80e9, 79e9, 10_000, 32_768, CONTEXT_TOO_LARGE),
    ],
)
def test_fit_verdict_says_why(usable, weights, kv_tokens, context, verdict):
    assert fit_verdict(usable, weights, kv_tokens, context) == verdict


def test_kv_is_replicated_when_gpus_outnumber_kv_heads():
    assert kv_replication_factor(np.array([1, 8, 16]), 8).tolist() == [1.0, 1.0, 2.0]
    # MLA: one latent head, held whole by every GPU
    assert kv_replication_factor(8, 1) == 8.0


def test_results_take_the_broadcast_shape():
    w = weight_bytes(np.full((3, 1), 7e9), 5e8, 5e8, np.array([[16, 8, 4.156, 4.8]]), 16, 16)
    assert w.shape == (3, 4)


# --------------------------------------------------------------------------- windowed layers and experts-only formats
# gpt-oss-120b (tests/fixtures/hf_configs/openai__gpt-oss-120b.json): 36 layers, 8 KV heads of 64,
# so 2 x 8 x 64 x 2 B = 2,048 B per layer per token in BF16; 18 sliding-window layers of 128 tokens.
GPT_OSS_KV = 36 * 2048  # 73,728 B/token over all layers
GPT_OSS_KV_WINDOWED = 18 * 2048  # 36,864 B/token in the windowed layers


def test_a_windowed_layer_holds_at_most_its_window():
    from selfhost.engine.memory import effective_context_tokens

    held = effective_context_tokens(32_768, GPT_OSS_KV, GPT_OSS_KV_WINDOWED, 128)
    # full layers x c + windowed layers x min(c, W), in all-layer tokens
    assert held * GPT_OSS_KV == 18 * 2048 * 32_768 + 18 * 2048 * 128 == 1_212_678_144
    assert held == 16_448
    # a context shorter than the window is held whole
    assert effective_context_tokens(100, GPT_OSS_KV, GPT_OSS_KV_WINDOWED, 128) == 100


def test_without_windowed_layers_the_context_is_returned_exactly():
    from selfhost.engine.memory import effective_context_tokens

    contexts = np.array([1.0, 1300.0, 32_768.5, 1e7])
    assert np.array_equal(effective_context_tokens(contexts, 327_680.0), contexts)
    # a window alone (no windowed bytes) changes nothing either
    assert np.array_equal(effective_context_tokens(contexts, 327_680.0, 0.0, 128), contexts)


def test_window_arithmetic_broadcasts_over_deployments_and_contexts():
    from selfhost.engine.memory import effective_context_tokens

    kv = np.array([GPT_OSS_KV, 327_680.0])
    windowed = np.array([GPT_OSS_KV_WINDOWED, 0.0])
    window = np.array([128.0, 0.0])
    contexts = np.array([[64.0], [4096.0]])
    held = effective_context_tokens(contexts, kv, windowed, window)
    assert held.shape == (2, 2)
    assert held.tolist() == [[64.0, 64.0], [4096.0 - 0.5 * (4096 - 128), 4096.0]]


def test_experts_only_format_quantizes_only_the_experts():
    # gpt-oss-120b as released: MXFP4 experts (4 + 8/32 bits), everything else BF16.
    total, emb, experts = 116_829_156_672, 201_088 * 2880, 36 * 128 * (3 * 2880 * 2880 + 2 * 2880 + 2880)
    both = weight_bytes(total, emb, emb, 16, 16, 16, experts, 4.25)
    by_hand = ((total - 2 * emb - experts) * 16 + experts * 4.25 + 2 * emb * 16) / 8
    assert both == pytest.approx(by_hand, rel=1e-12)
    # gpt-oss model card: the checkpoint is 60.8 GiB (its expert biases are BF16, here 4.25 bits: 58 MB)
    assert both / GIB == pytest.approx(60.8, rel=0.005)


def test_expert_bits_equal_to_linear_bits_change_nothing():
    plain = weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 4.156, 16, 16)
    assert weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 4.156, 16, 16, 40e9, 4.156) == plain
    assert weight_bytes(LLAMA70_PARAMS, LLAMA70_EMB, LLAMA70_EMB, 4.156, 16, 16, 40e9) == plain
