"""The built-in catalog files under data/ validate against the schema, cross-reference cleanly and
carry the verified figures of shared/reference/facts.md.

Deliberately independent of the catalog loader: reads the YAML with yaml.safe_load and validates each
entry with SECTION_TYPES directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from selfhost.catalog.schema import SECTION_TYPES

# section -> validated entries; entries typed Any because each section holds a different Entry subclass
Catalog = dict[str, list[Any]]

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

# file -> sections it must hold (and nothing else)
FILES: dict[str, tuple[str, ...]] = {
    "gpu_prices.yaml": ("gpus", "rental_offers", "purchase_options"),
    "models.yaml": ("models", "quantizations"),
    "api_prices.yaml": ("apis",),
    "engines.yaml": ("engines",),
}


def _load_raw(filename: str) -> dict[str, Any]:
    with (DATA_DIR / filename).open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{filename}: top level must be a mapping of section -> list"
    return data


def _validated() -> Catalog:
    sections: Catalog = {}
    for filename, expected in FILES.items():
        raw = _load_raw(filename)
        assert set(raw) == set(expected), f"{filename}: sections {sorted(raw)} != {sorted(expected)}"
        for section in expected:
            entries = raw[section]
            assert isinstance(entries, list) and entries, f"{filename}:{section} must be a non-empty list"
            model = SECTION_TYPES[section]
            sections[section] = [model.model_validate(item) for item in entries]
    return sections


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return _validated()


def _by_id(catalog: Catalog, section: str) -> dict[str, Any]:
    return {e.id: e for e in catalog[section]}


# ------------------------------------------------------------------------- structure


def test_every_section_is_present_and_valid(catalog: Catalog) -> None:
    assert set(catalog) == set(SECTION_TYPES)


@pytest.mark.parametrize("section", sorted(SECTION_TYPES))
def test_ids_and_aliases_are_unique_within_a_section(catalog: Catalog, section: str) -> None:
    ids = [e.id for e in catalog[section]]
    assert len(ids) == len(set(ids)), f"duplicate ids in {section}"
    # Lookups forgive case and read '_' and ' ' as '-', so compare names that way.
    names = [
        n.strip().casefold().replace("_", "-").replace(" ", "-")
        for e in catalog[section]
        for n in (e.id, *e.aliases)
    ]
    dupes = {n for n in names if names.count(n) > 1}
    assert not dupes, f"{section}: ids/aliases used twice: {sorted(dupes)}"


def test_rental_and_purchase_gpus_exist(catalog: Catalog) -> None:
    gpus = _by_id(catalog, "gpus")
    for section in ("rental_offers", "purchase_options"):
        for entry in catalog[section]:
            assert entry.gpu in gpus, f"{section}:{entry.id} refers to unknown gpu {entry.gpu!r}"


def test_api_equivalent_models_exist(catalog: Catalog) -> None:
    models = _by_id(catalog, "models")
    for api in catalog["apis"]:
        if api.equivalent_model is not None:
            assert api.equivalent_model in models, f"apis:{api.id} -> {api.equivalent_model!r}"


def test_hosted_open_models_take_the_tier_of_their_model(catalog: Catalog) -> None:
    models = _by_id(catalog, "models")
    for api in catalog["apis"]:
        if api.equivalent_model is not None:
            assert api.quality_tier == models[api.equivalent_model].quality_tier, api.id


def test_quantization_engines_exist(catalog: Catalog) -> None:
    engines = _by_id(catalog, "engines")
    for quant in catalog["quantizations"]:
        for engine in quant.engines:
            assert engine in engines, f"quantizations:{quant.id} lists unknown engine {engine!r}"


def test_quantization_platforms_are_served_by_its_engines(catalog: Catalog) -> None:
    engines = _by_id(catalog, "engines")
    for quant in catalog["quantizations"]:
        served = {p for engine in quant.engines for p in engines[engine].platforms}
        assert set(quant.platforms) <= served, quant.id


def test_gpu_platform_matches_vendor(catalog: Catalog) -> None:
    expected = {"nvidia": "cuda", "amd": "rocm", "apple": "metal"}
    for gpu in catalog["gpus"]:
        assert gpu.platform == expected[gpu.vendor], gpu.id
        if gpu.vendor == "apple":
            assert gpu.max_gpus_per_node == 1, gpu.id


def test_unconfirmed_entries_explain_themselves(catalog: Catalog) -> None:
    for section, entries in catalog.items():
        for entry in entries:
            if not entry.confirmed:
                assert entry.notes.strip(), f"{section}:{entry.id} is unconfirmed but has no notes"


def test_every_entry_has_a_source_and_date(catalog: Catalog) -> None:
    for section, entries in catalog.items():
        for entry in entries:
            assert entry.source.strip(), f"{section}:{entry.id}"
            assert entry.as_of.year >= 2024, f"{section}:{entry.id}"


def test_engine_profiles_are_confirmed_when_fitted_to_their_own_measurements(catalog: Catalog) -> None:
    # scripts/calibrate.py fits the engines that data/calibration/measurements.yaml measures (issues 3
    # and 8: vLLM and SGLang from their serving runs); the others take a pooled fit and stay unconfirmed.
    raw = yaml.safe_load((DATA_DIR / "calibration" / "measurements.yaml").read_text(encoding="utf-8"))
    measured = {m["engine"] for m in raw["measurements"]}
    assert measured == {"tensorrt-llm", "llama.cpp", "lmdeploy", "vllm", "sglang"}
    assert {e.id for e in catalog["engines"] if e.confirmed} == measured


def test_purchase_options_are_editorial(catalog: Catalog) -> None:
    # facts.md has no purchase prices.
    assert all(not e.confirmed for e in catalog["purchase_options"])


# ------------------------------------------------------------------------- spot checks


def test_h100_sxm_figures(catalog: Catalog) -> None:
    h100 = _by_id(catalog, "gpus")["h100-sxm-80gb"]
    # facts.md §2: H100 SXM 3,350 GB/s, 989 dense BF16, 1,979 dense FP8, NVLink 4 900 GB/s, 700 W
    assert h100.memory_bandwidth_gb_s == 3350
    assert h100.bf16_tflops == 989
    assert h100.fp8_tflops == 1979
    assert h100.interconnect_gb_s == 900
    assert h100.power_w == 700
    # facts.md §2: nvidia-smi 81,559 MiB = 85.52e9 bytes
    assert h100.device_memory_gb == pytest.approx(81559 * 2**20 / 1e9, abs=0.01)
    assert h100.memory_gb == 80
    assert {"h100", "h100-sxm"} <= set(h100.aliases)


def test_l40s_device_memory(catalog: Catalog) -> None:
    l40s = _by_id(catalog, "gpus")["l40s-48gb"]
    # facts.md §2: L40S nvidia-smi 46,068 MiB = 48.31e9 bytes; 864 GB/s; 362 dense BF16; no NVLink
    assert l40s.device_memory_gb == pytest.approx(46068 * 2**20 / 1e9, abs=0.01)
    assert l40s.device_memory_gb == pytest.approx(48.31)
    assert l40s.memory_bandwidth_gb_s == 864
    assert l40s.bf16_tflops == 362


def test_h200_and_a100_have_no_sparse_figures(catalog: Catalog) -> None:
    gpus = _by_id(catalog, "gpus")
    # facts.md §2: H200 4,800 GB/s, 989 dense BF16; A100 SXM 2,039 GB/s, 312 dense BF16, no FP8
    assert gpus["h200-141gb"].memory_bandwidth_gb_s == 4800
    assert gpus["h200-141gb"].bf16_tflops == 989
    assert gpus["a100-80gb"].memory_bandwidth_gb_s == 2039
    assert gpus["a100-80gb"].bf16_tflops == 312
    assert gpus["a100-80gb"].fp8_tflops is None
    # facts.md §2: MI300X 1,307.4 dense BF16 (2,615 is the sparse figure)
    assert gpus["mi300x-192gb"].bf16_tflops == pytest.approx(1307.4)


def test_m3_max_64gb(catalog: Catalog) -> None:
    m3 = _by_id(catalog, "gpus")["m3-max-64gb"]
    # facts.md §2: M3 Max 40-core GPU 400 GB/s (Apple support 117737); Metal working set 48 GiB of 64 GiB
    assert m3.memory_bandwidth_gb_s == 400
    assert m3.max_memory_fraction == pytest.approx(0.75)
    assert m3.device_memory_gb == pytest.approx(64 * 2**30 / 1e9, abs=0.01)
    # 48 GiB recommendedMaxWorkingSetSize = 51,539.61 MB
    assert m3.device_memory_gb * m3.max_memory_fraction == pytest.approx(51.54, abs=0.01)
    assert m3.fp8_tflops is None and m3.int8_tops is None
    assert not m3.confirmed  # Apple TFLOPS are not vendor-published
    assert {"m3-max", "m3-max-40c-64gb"} <= set(m3.aliases)


def test_apple_128gb_working_set(catalog: Catalog) -> None:
    # facts.md §2: 107.52 GiB on 128 GB Macs (antirez/ds4 PR #893)
    gpus = _by_id(catalog, "gpus")
    for gpu_id in ("m3-max-128gb", "m4-max-128gb"):
        gpu = gpus[gpu_id]
        assert gpu.device_memory_gb * gpu.max_memory_fraction == pytest.approx(107.52 * 2**30 / 1e9, abs=0.01)
    # facts.md §2: M4 Max 546 GB/s, M2 Ultra 800 GB/s
    assert gpus["m4-max-128gb"].memory_bandwidth_gb_s == 546
    assert gpus["m2-ultra-192gb"].memory_bandwidth_gb_s == 800


def test_llama_3_3_70b_architecture(catalog: Catalog) -> None:
    llama = _by_id(catalog, "models")["llama-3.3-70b"]
    arch = llama.architecture
    # facts.md §1.1 / Llama-3.3-70B-Instruct config.json: 80 layers, 8 KV heads, head_dim 128, vocab 128256
    assert arch.hf_architecture == "LlamaForCausalLM"
    assert arch.num_hidden_layers == 80
    assert arch.num_key_value_heads == 8
    assert arch.head_dim == 128
    assert arch.vocab_size == 128256
    assert arch.hidden_size == 8192
    assert arch.intermediate_size == 28672
    assert llama.params_total_b == pytest.approx(70.55)  # llama.cpp: model params = 70.55 B
    assert llama.max_context_tokens == 131072
    # facts.md §1.1: KV cache per token, BF16 = 2 * 80 * 8 * 128 * 2 B = 320 KiB
    kv_bytes = 2 * arch.num_hidden_layers * arch.num_key_value_heads * arch.head_dim * 2
    assert kv_bytes == 320 * 1024


def test_qwen_small_model_ties_embeddings(catalog: Catalog) -> None:
    models = _by_id(catalog, "models")
    # facts.md §1.1: only Qwen2.5-1.5B ties embeddings; Qwen2.5 has QKV bias
    assert models["qwen2.5-1.5b"].architecture.tie_word_embeddings
    assert not models["qwen2.5-7b"].architecture.tie_word_embeddings
    assert all(models[m].architecture.qkv_bias for m in models if m.startswith("qwen2.5"))
    # Qwen3 dropped the q/k/v biases and added per-head q/k norms (its config.json)
    assert all(
        not models[m].architecture.qkv_bias and models[m].architecture.qk_norm
        for m in models
        if m.startswith("qwen3")
    )


def test_deepseek_v3_moe_and_mla(catalog: Catalog) -> None:
    ds = _by_id(catalog, "models")["deepseek-v3"]
    arch = ds.architecture
    # facts.md §1.2 / DeepSeek-V3 config.json: kv_lora_rank 512, qk_rope 64, qk_nope 128, v 128, q_lora 1536
    assert arch.mla is not None
    assert (arch.mla.kv_lora_rank, arch.mla.qk_rope_head_dim) == (512, 64)
    assert (arch.mla.qk_nope_head_dim, arch.mla.v_head_dim, arch.mla.q_lora_rank) == (128, 128, 1536)
    # facts.md §1.2: 256 routed experts, 8 per token, 1 shared, 2048 wide, first 3 layers dense
    assert arch.moe is not None
    assert (arch.moe.n_routed_experts, arch.moe.num_experts_per_tok) == (256, 8)
    assert (arch.moe.n_shared_experts, arch.moe.moe_intermediate_size) == (1, 2048)
    assert arch.moe.first_k_dense_replace == 3
    assert arch.num_hidden_layers == 61
    assert (ds.params_total_b, ds.params_active_b) == (671, 37)
    assert ds.native_dtype == "fp8"
    # facts.md §1.2: MLA latent KV = 61 * (512 + 64) * 2 B = 68.6 KiB per token
    kv_bytes = arch.num_hidden_layers * (arch.mla.kv_lora_rank + arch.mla.qk_rope_head_dim) * 2
    assert kv_bytes / 1024 == pytest.approx(68.6, abs=0.05)


def test_non_production_licences(catalog: Catalog) -> None:
    models = _by_id(catalog, "models")
    # facts.md §1.1: Codestral MNPL-0.1 and Mistral Large MRL-0.1 forbid production use
    assert not models["codestral-22b"].license_allows_production
    assert not models["mistral-large-2"].license_allows_production
    assert models["llama-3.3-70b"].license_allows_production


def test_digitalocean_h100_price(catalog: Catalog) -> None:
    offers = _by_id(catalog, "rental_offers")
    # facts.md §3.1: DigitalOcean H100 x1 3.39 USD/h, x8 23.92 USD/h = 2.99/GPU (validated 2026-05-28)
    assert offers["digitalocean-h100-sxm-80gb-x1"].usd_per_gpu_hour == 3.39
    x8 = offers["digitalocean-h100-sxm-80gb-x8"]
    assert (x8.usd_per_gpu_hour, x8.instance_gpus) == (2.99, 8)
    # facts.md §3.2: AWS p5.48xlarge 55.04 USD/h for 8 GPUs after the June 2025 cut
    p5 = offers["aws-p5-48xlarge"]
    assert p5.usd_per_gpu_hour * p5.instance_gpus == pytest.approx(55.04)


def test_awq_int4_bits(catalog: Catalog) -> None:
    quants = _by_id(catalog, "quantizations")
    # facts.md §5.2: AWQ g128 = 4 + 16/128 + 4/128 = 4.156 bits; embeddings/lm_head FP16
    awq = quants["awq-int4"]
    assert awq.linear_bits_per_weight == pytest.approx(4.156, abs=1e-3)
    assert (awq.embedding_bits_per_weight, awq.lm_head_bits_per_weight) == (16, 16)
    assert awq.compute_dtype == "bf16"
    assert quants["gptq-int4"].linear_bits_per_weight == pytest.approx(4.156, abs=1e-3)


def test_gguf_sizes_reproduce_published_files(catalog: Catalog) -> None:
    quants = _by_id(catalog, "quantizations")
    # Llama-3.3-70B: 70.554e9 params, embedding and untied output head 128256 x 8192 each
    emb = 128256 * 8192
    linear = 70.554e9 - 2 * emb

    def size_gb(q: Any) -> float:
        bits = (
            linear * q.linear_bits_per_weight
            + emb * q.embedding_bits_per_weight
            + emb * q.lm_head_bits_per_weight
        )
        return float(bits / 8 / 1e9)

    # facts.md §5.1: HF file sizes Q4_K_M 42.5 GB, Q6_K 57.9 GB, Q8_0 75.0 GB
    assert size_gb(quants["q4_k_m"]) == pytest.approx(42.5, abs=0.1)
    assert size_gb(quants["q6_k"]) == pytest.approx(57.9, abs=0.1)
    assert size_gb(quants["q8_0"]) == pytest.approx(75.0, abs=0.1)
    # facts.md §5.2: Llama-70B AWQ g128 about 39.8 GB
    assert size_gb(quants["awq-int4"]) == pytest.approx(39.8, abs=0.1)


def test_gpt_4_1_price(catalog: Catalog) -> None:
    apis = _by_id(catalog, "apis")
    # facts.md §4: gpt-4.1 2.00 / 8.00, cached 0.50 (litellm==1.110.2)
    gpt41 = apis["openai-gpt-4.1"]
    assert (gpt41.usd_per_mtok_input, gpt41.usd_per_mtok_output) == (2.00, 8.00)
    assert gpt41.usd_per_mtok_cached_input == 0.50
    # facts.md §4: deepseek-chat now serves V3.2, so it is not equivalent to the catalogued deepseek-v3
    assert apis["deepseek-api-deepseek-chat"].equivalent_model is None


def test_vllm_default_memory_utilization(catalog: Catalog) -> None:
    # facts.md §5.3: vllm==0.33.0 vllm/config/cache.py Field(default=0.92)
    assert _by_id(catalog, "engines")["vllm"].gpu_memory_utilization == 0.92
