"""Pydantic models of the catalog. Every figure carries units in its name; every entry a source and date.

The YAML files under data/ validate against these models. Entries are frozen and reject
unknown keys, so a typo in a catalog file is an error, not a silently ignored field.
Validators are built on first use (``defer_build``): a run served from the catalog cache never
needs them, which keeps start-up fast.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfhost.limits import MAX_TOKENS
from selfhost.schema_types import (
    Count,
    Flag,
    Fraction,
    NonNegative,
    NonNegativeInt,
    Positive,
    PositiveInt,
    TextChecked,
)

#: Most decoder layers a model may have. The deepest published decoders have under 200; the
#: bound keeps per-layer lists (Qwen's mlp_only_layers, Llama 4's moe_layers) finite. [count]
MAX_LAYERS = 10_000
#: Largest width, head count, vocabulary or expert count. The largest published dimension is
#: a vocabulary of ~260k tokens; 2**24 leaves room and keeps every product of sizes (a
#: parameter count is layers x width x width x experts) far inside a float. [count]
MAX_DIMENSION = 2**24
LayerCount = Annotated[Count, Field(gt=0, le=MAX_LAYERS)]
Dimension = Annotated[Count, Field(gt=0, le=MAX_DIMENSION)]
EntryId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=80)]


class Entry(TextChecked):
    """Common fields: a lower-case id, optional aliases, where the figures came from and when."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: EntryId
    aliases: tuple[EntryId, ...] = ()
    source: str = Field(min_length=3, description="Where the figures came from (URL, repo@commit, doc).")
    as_of: dt.date = Field(description="Date the figures apply to (price date, spec retrieval date).")
    confirmed: Flag = Field(
        default=True,
        description="False when any figure is an unconfirmed estimate; `notes` then says which and why.",
    )
    notes: str = ""


# --------------------------------------------------------------------------- GPUs


class Gpu(Entry):
    """One accelerator: memory, bandwidth and dense (no 2:4 sparsity) tensor throughput."""

    name: str
    vendor: Literal["nvidia", "amd", "apple"]
    memory_gb: Positive = Field(description="Marketing memory size, used as the label. [GB]")
    device_memory_gb: Positive = Field(
        description="Memory the device really reports (e.g. nvidia-smi 81,559 MiB = 85.52 GB for an H100). [GB]"
    )
    max_memory_fraction: Fraction = Field(
        default=1.0,
        description="Share of device memory the accelerator may use at all (Apple Metal: 0.75 by default). [unitless]",
    )
    memory_bandwidth_gb_s: Positive = Field(description="Peak memory bandwidth. [GB/s]")
    bf16_tflops: Positive = Field(description="Dense BF16/FP16 tensor throughput. [TFLOP/s]")
    fp8_tflops: Positive | None = Field(
        default=None, description="Dense FP8 tensor throughput; None if unsupported. [TFLOP/s]"
    )
    int8_tops: Positive | None = Field(default=None, description="Dense INT8 tensor throughput. [TOP/s]")
    fp4_tflops: Positive | None = Field(
        default=None,
        description="Dense FP4 (NVFP4/MXFP4) tensor throughput; None without FP4 tensor cores. [TFLOP/s]",
    )
    power_w: Positive = Field(description="Board power (TDP/TGP) per GPU. [W]")
    interconnect: str = Field(description="GPU-to-GPU link, e.g. 'NVLink 4', 'PCIe Gen4'.")
    interconnect_gb_s: Positive = Field(
        description="GPU-to-GPU bandwidth per GPU used for tensor-parallel all-reduce, as the vendor "
        "states it (see `interconnect_both_directions`). [GB/s]"
    )
    interconnect_both_directions: bool = Field(
        default=False,
        description="True where `interconnect_gb_s` is the vendor's two-direction total (NVLink, "
        "Infinity Fabric: H100 SXM's 900 GB/s is 450 each way); False where it is one direction "
        "(the PCIe figures). The all-reduce sends and receives at once, so it runs at one direction's "
        "bandwidth: half of a two-direction total.",
    )
    max_gpus_per_node: PositiveInt = Field(description="Largest tensor-parallel group on one node. [count]")
    platform: Literal["cuda", "rocm", "metal"]


# --------------------------------------------------------------------------- prices


class RentalOffer(Entry):
    """A provider's hourly price for a GPU. Billed per instance of `instance_gpus` GPUs."""

    provider: str
    gpu: EntryId
    usd_per_gpu_hour: Positive = Field(description="Price per GPU-hour. [USD/h]")
    instance_gpus: PositiveInt = Field(
        default=1, description="GPUs per rentable instance; you pay for whole instances. [count]"
    )
    pricing: Literal["on-demand", "committed", "spot", "marketplace"] = "on-demand"
    region: str = ""


class PurchaseOption(Entry):
    """Owned hardware: purchase price amortized, plus power and hosting, turned into an hourly cost."""

    gpu: EntryId
    description: str
    usd_per_gpu: Positive = Field(description="Purchase price per GPU (or per machine for a Mac). [USD]")
    amortization_months: Positive = Field(
        description="Months over which the purchase is written off. [months]"
    )
    watts_per_gpu: Positive = Field(description="Average wall power per GPU incl. its share of the host. [W]")
    usd_per_kwh: NonNegative = Field(description="Electricity price. [USD/kWh]")
    pue: Annotated[Positive, Field(ge=1.0)] = Field(
        default=1.0, description="Power usage effectiveness. [unitless]"
    )
    hosting_usd_per_gpu_month: NonNegative = Field(
        default=0.0, description="Rack space, network, insurance per GPU. [USD/month]"
    )
    instance_gpus: PositiveInt = Field(default=1, description="GPUs bought together as one machine. [count]")


# --------------------------------------------------------------------------- models


class MoeSpec(TextChecked):
    """Mixture-of-experts layout from config.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    n_routed_experts: Dimension
    num_experts_per_tok: Dimension
    n_shared_experts: Annotated[Count, Field(ge=0, le=MAX_DIMENSION)] = 0
    moe_intermediate_size: Dimension
    first_k_dense_replace: Annotated[Count, Field(ge=0, le=MAX_LAYERS)] = Field(
        default=0, description="Leading layers that use a dense MLP instead of experts. [count]"
    )
    layer_freq: LayerCount = Field(
        default=1,
        description="DeepSeek `moe_layer_freq`: layer i may be MoE only if i % layer_freq == 0. [count]",
    )
    decoder_sparse_step: LayerCount = Field(
        default=1,
        description="Qwen-MoE `decoder_sparse_step`: layer i may be MoE only if (i + 1) % step == 0. [count]",
    )
    mlp_only_layers: tuple[Annotated[Count, Field(ge=0, lt=MAX_LAYERS)], ...] = Field(
        default=(), description="Qwen-MoE `mlp_only_layers`: layer indices forced to a dense MLP. [index]"
    )
    router_score_bias: Flag = Field(
        default=False,
        description="Router holds a per-expert score-correction bias (DeepSeek-V3 `noaux_tc` routing).",
    )
    router_bias: Flag = Field(default=False, description="Router linear layer has a bias (gpt-oss).")
    expert_bias: Flag = Field(
        default=False, description="Every expert's gate/up and down projections have biases (gpt-oss)."
    )

    @model_validator(mode="after")
    def _active_not_more_than_total(self) -> MoeSpec:
        if self.num_experts_per_tok > self.n_routed_experts:
            raise ValueError("num_experts_per_tok must not exceed n_routed_experts")
        return self


class MlaSpec(TextChecked):
    """Multi-head latent attention (DeepSeek-V2/V3): the cache holds a compressed latent per token."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kv_lora_rank: Dimension
    qk_rope_head_dim: Dimension
    qk_nope_head_dim: Dimension
    v_head_dim: Dimension
    q_lora_rank: Dimension | None = None


class Architecture(TextChecked):
    """The config.json fields the engine needs."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    hf_architecture: str = Field(description="config.json `architectures[0]`, e.g. LlamaForCausalLM.")
    num_hidden_layers: LayerCount = Field(description=f"Decoder layers (at most {MAX_LAYERS:,}). [count]")
    hidden_size: Dimension
    intermediate_size: Dimension = Field(description="Dense MLP width. [count]")
    num_attention_heads: Dimension
    num_key_value_heads: Dimension
    head_dim: Dimension
    vocab_size: Dimension
    tie_word_embeddings: Flag = False
    qkv_bias: Flag = Field(
        default=False,
        description="Bias on the q, k, v projections (Qwen2); with MLA on q_a and kv_a (DeepSeek `attention_bias`).",
    )
    o_bias: Flag = Field(
        default=False, description="Bias on the output projection (Llama/Qwen3/DeepSeek `attention_bias`)."
    )
    mlp_bias: Flag = Field(
        default=False, description="Biases on the dense MLP projections (Llama `mlp_bias`)."
    )
    qk_norm: Flag = Field(default=False, description="Per-head RMSNorm on q and k (Qwen3).")
    num_nextn_predict_layers: Annotated[Count, Field(ge=0, le=MAX_LAYERS)] = Field(
        default=0,
        description="DeepSeek-V3 multi-token-prediction (MTP) modules; their weights are not in "
        "params_total_b. [count]",
    )
    attention_sinks: Flag = Field(
        default=False, description="One learned sink logit per query head and layer (gpt-oss `sinks`)."
    )
    windowed_layers: Annotated[Count, Field(ge=0, le=MAX_LAYERS)] = Field(
        default=0,
        description="Layers that attend to at most `attention_window_tokens` tokens and so cache no "
        "more: sliding window (gpt-oss `sliding_attention`) or chunked attention (Llama 4). [count]",
    )
    attention_window_tokens: Annotated[Count, Field(ge=0, le=MAX_TOKENS)] = Field(
        default=0,
        description="Window of the windowed layers: `sliding_window` or `attention_chunk_size`; 0 "
        "when every layer attends to the whole sequence. [tokens]",
    )
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None

    @model_validator(mode="after")
    def _heads_divide(self) -> Architecture:
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        return self

    @model_validator(mode="after")
    def _window_is_complete(self) -> Architecture:
        if (self.windowed_layers > 0) != (self.attention_window_tokens > 0):
            raise ValueError("windowed_layers and attention_window_tokens must both be set, or both be 0")
        if self.windowed_layers > self.num_hidden_layers:
            raise ValueError("windowed_layers must not exceed num_hidden_layers")
        if self.windowed_layers and self.mla is not None:
            raise ValueError("windowed attention is not supported together with MLA")
        return self


QualityTier = Literal["frontier", "strong", "mid", "small"]


class Model(Entry):
    """An open-weight model with its real architecture and licence."""

    name: str
    hf_repo: str = Field(description="Hugging Face repository id.")
    architecture: Architecture
    params_total_b: Positive = Field(description="All parameters, every expert included. [1e9 params]")
    params_active_b: Positive = Field(
        description="Parameters used per token (MoE: routed subset). [1e9 params]"
    )
    max_context_tokens: Annotated[Count, Field(gt=0, le=MAX_TOKENS)] = Field(
        description="Longest context the released config supports. [tokens]"
    )
    native_dtype: Literal["bf16", "fp8", "mxfp4"] = Field(
        default="bf16",
        description="Quantization id the published weights ship in (gpt-oss: mxfp4, experts only).",
    )
    license: str
    license_allows_production: Flag = Field(
        description="False when the licence forbids commercial/production use without a separate agreement."
    )
    tags: tuple[str, ...] = ()
    quality_tier: QualityTier = Field(description="Editorial tier used to pick comparable APIs.")
    release_date: dt.date | None = None

    @model_validator(mode="after")
    def _active_not_more_than_total(self) -> Model:
        if self.params_active_b > self.params_total_b * 1.0001:
            raise ValueError("params_active_b must not exceed params_total_b")
        return self


# --------------------------------------------------------------------------- quantizations


ComputeDtype = Literal["bf16", "fp8", "int8", "fp4"]


class Quantization(Entry):
    """Weight format: effective bits per weight including scales and zeros, and what stays unquantized."""

    name: str
    linear_bits_per_weight: Positive = Field(
        description="Effective bits per weight of the transformer linear layers incl. scales/zeros. [bit]"
    )
    embedding_bits_per_weight: Positive = Field(description="Bits per weight of the input embedding. [bit]")
    lm_head_bits_per_weight: Positive = Field(
        description="Bits per weight of the output head (if untied). [bit]"
    )
    expert_bits_per_weight: Positive | None = Field(
        default=None,
        description="Bits per weight of the routed MoE experts where the format stores them apart from "
        "the other linear layers (gpt-oss's MXFP4 checkpoints quantize the experts only); None: as "
        "linear_bits_per_weight. A format with this set applies to MoE models only. [bit]",
    )
    compute_dtype: ComputeDtype = Field(
        description="Dtype of the matrix multiplies, which picks the peak FLOPs (weight-only int4 computes "
        "in BF16; FP4 formats compute in FP4 only on GPUs with fp4_tflops, elsewhere weight-only in BF16)."
    )
    platforms: tuple[Literal["cuda", "rocm", "metal"], ...] = Field(description="Where the format runs.")
    engines: tuple[str, ...] = Field(description="Serving-engine profile ids that load this format.")


# --------------------------------------------------------------------------- serving engines


Platform = Literal["cuda", "rocm", "metal"]
#: `selfhost.scenarios.LAYOUT_KINDS` (a test holds the two equal).
LayoutKind = Literal["single-gpu", "tensor-parallel", "pipeline-parallel", "dp-attention", "layer-split"]


class PlatformEfficiency(TextChecked):
    """An engine's efficiencies on one GPU platform, where its kernels differ from elsewhere."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    memory_bandwidth_utilization: Fraction = Field(description="MBU on this platform. [unitless]")
    compute_utilization: Fraction = Field(description="MFU on this platform. [unitless]")
    step_overhead_s: NonNegative | None = Field(
        default=None, description="Fixed time per step on this platform; None: the profile's. [s]"
    )


class GpuEfficiency(TextChecked):
    """An engine's efficiencies on one GPU, fitted to a user's own measurements (`selfhost calibrate`).

    Used on that GPU in place of the platform's and the profile's fields; a field left None
    keeps them. ``source`` names the calibration and its measurement files.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    memory_bandwidth_utilization: Fraction | None = Field(
        default=None, description="MBU on this GPU. [unitless]"
    )
    compute_utilization: Fraction | None = Field(default=None, description="MFU on this GPU. [unitless]")
    step_overhead_s: NonNegative | None = Field(
        default=None, description="Fixed time per step on this GPU; None: the platform's or profile's. [s]"
    )
    source: str = Field(min_length=3, description="The calibration: command, measurement files, date.")
    points: NonNegativeInt = Field(default=0, description="Measurements the fit used. [count]")
    notes: str = ""


class EngineGeneration(TextChecked):
    """An older generation of an engine's releases, which differed from the current ones.

    The profile's own fields describe the current releases; a measurement of a release before
    ``before_version`` is predicted with what this generation says of its releases: their own
    step overheads (a slower scheduler; fitted, the kernels' efficiencies stay shared), and/or a
    decode attention kernel that read each KV head once per query head. A generation without step
    overheads takes the current releases'.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    id: EntryId
    before_version: str = Field(pattern=r"^\d+(\.\d+)*$", description="First release NOT in this generation.")
    step_overhead_s: NonNegative | None = Field(
        default=None, description="Fixed time per step; none: the current releases'. [s]"
    )
    step_overhead_per_sequence_s: NonNegative | None = Field(
        default=None, description="Time per step per sequence (with step_overhead_s; none: 0). [s]"
    )
    kv_read_per_query_head: bool = Field(
        default=False,
        description="Decode attention read each KV head once per query head sharing it (no MQA/GQA-"
        "optimized kernel): query heads / KV heads times the KV bytes of current kernels.",
    )
    source: str = Field(min_length=3, description="Where the generation boundary is documented.")
    notes: str = ""

    @model_validator(mode="after")
    def _overheads_together(self) -> EngineGeneration:
        if self.step_overhead_per_sequence_s is not None and self.step_overhead_s is None:
            raise ValueError(
                f"generation {self.id}: step_overhead_per_sequence_s needs step_overhead_s "
                "(a generation has its own step overheads, or the current releases')"
            )
        if self.step_overhead_s is None and not self.kv_read_per_query_head:
            raise ValueError(
                f"generation {self.id} differs from the current releases in nothing: give step_overhead_s "
                "or kv_read_per_query_head: true"
            )
        return self


class EngineProfile(Entry):
    """A serving engine's efficiency: fractions of roofline it reaches, plus fixed overheads.

    These few physical parameters are fitted to published measurements; `source` says which.
    """

    name: str
    platforms: tuple[Platform, ...]
    gpu_memory_utilization: Fraction = Field(
        description="Share of (usable) device memory the engine claims (vLLM --gpu-memory-utilization). [unitless]"
    )
    runtime_overhead_gb: NonNegative = Field(
        description="Per-GPU memory for CUDA context, activations and graphs, outside weights and KV. [GB]"
    )
    memory_bandwidth_utilization: Fraction = Field(
        description="Achieved / peak memory bandwidth in decode (MBU). [unitless]"
    )
    compute_utilization: Fraction = Field(description="Achieved / peak tensor FLOPs (MFU). [unitless]")
    step_overhead_s: NonNegative = Field(
        description="Fixed time per decode step (scheduling, kernel launch). [s]"
    )
    allreduce_latency_s: NonNegative = Field(
        description="Fixed latency of one tensor-parallel all-reduce. [s]"
    )
    step_overhead_per_sequence_s: NonNegative = Field(
        default=0.0,
        description="Time per step per sequence in the batch (scheduling, sampling, bookkeeping). [s]",
    )
    expert_efficiency: Fraction = Field(
        default=1.0,
        description="Share of MBU and MFU the routed experts' (grouped) kernels reach. [unitless]",
    )
    interconnect_bandwidth_utilization: Fraction = Field(
        default=1.0,
        description="Achieved / catalogued GPU-to-GPU bandwidth in tensor-parallel all-reduce. [unitless]",
    )
    max_batch_sequences: PositiveInt = Field(
        description="Engine cap on concurrent sequences (vLLM max_num_seqs). [count]"
    )
    fit_batch_cap: Flag = Field(
        default=True,
        description="Whether the calibration fits `max_batch_sequences` (an engine that tunes its batch "
        "to the run) or keeps the documented default (vLLM --max-num-seqs).",
    )
    multi_gpu: Literal["tensor-parallel", "layer-split"] = Field(
        default="tensor-parallel",
        description="How a replica spreads over several GPUs by default: every layer split across "
        "them (tensor parallel: bandwidth and compute add, all-reduces per layer), or the layers "
        "split between them (the GPUs take turns: a step runs at one GPU's speed; memory adds).",
    )
    pipeline_parallel: Flag = Field(
        default=False,
        description="Splits a replica larger than one node into pipeline stages of one node each "
        "(tensor parallel within a node), as vLLM --pipeline-parallel-size does.",
    )
    dp_attention: Flag = Field(
        default=False,
        description="Can run a MoE model's attention data parallel over the replica's GPUs with the "
        "experts split over them (vLLM --data-parallel-size with --enable-expert-parallel, SGLang "
        "--enable-dp-attention): each GPU keeps only its own sequences' KV cache.",
    )
    platform_efficiency: dict[Platform, PlatformEfficiency] = Field(
        default_factory=dict,
        description="Efficiencies fitted to one platform's measurements, used there in place of the "
        "fields above (llama.cpp's CUDA and Metal kernels reach different shares of their peaks).",
    )
    gpu_efficiency: dict[EntryId, GpuEfficiency] = Field(
        default_factory=dict,
        description="Efficiencies fitted to a user's measurements on one GPU (`selfhost calibrate`), "
        "used on that GPU in place of the platform's and the fields above.",
    )
    generations: tuple[EngineGeneration, ...] = Field(
        default=(),
        description="Older release generations, oldest first, with the step overheads their "
        "measurements are predicted with (the profile's own fields are the current releases').",
    )
    measured_gpus: tuple[str, ...] = Field(
        default=(),
        description="GPU ids of the published measurements the efficiency fields were fitted to "
        "(for a pooled profile: the pooled engines' measurements). Elsewhere throughput is extrapolated.",
    )
    measured_layouts: tuple[LayoutKind, ...] = Field(
        default=(),
        description="Kinds of replica layout (single-gpu, tensor-parallel, pipeline-parallel, dp-attention, "
        "layer-split) of the published measurements the efficiency fields were fitted to (for a pooled "
        "profile: the pooled engines'). Another layout's throughput is extrapolated.",
    )


# --------------------------------------------------------------------------- APIs


class ApiOffering(Entry):
    """A pay-per-token API: a frontier model, or an open model hosted by a provider."""

    provider: str
    api_model: str = Field(description="The provider's model name (LiteLLM key).")
    usd_per_mtok_input: NonNegative = Field(description="Price of uncached input tokens. [USD/1M tokens]")
    usd_per_mtok_output: NonNegative = Field(description="Price of output tokens. [USD/1M tokens]")
    usd_per_mtok_cached_input: NonNegative | None = Field(
        default=None, description="Price of cached input tokens, where offered. [USD/1M tokens]"
    )
    quality_tier: QualityTier
    equivalent_model: EntryId | None = Field(
        default=None, description="Catalog model id this API serves (hosted open model), else None."
    )
    context_tokens: PositiveInt | None = None
    base_url: str = Field(default="", description="OpenAI-compatible base URL, where there is one.")
    deprecated: Flag = False


class Catalog(BaseModel):
    """Everything the engine may be asked about, after overlays are applied."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    gpus: tuple[Gpu, ...] = ()
    rental_offers: tuple[RentalOffer, ...] = ()
    purchase_options: tuple[PurchaseOption, ...] = ()
    models: tuple[Model, ...] = ()
    quantizations: tuple[Quantization, ...] = ()
    engines: tuple[EngineProfile, ...] = ()
    apis: tuple[ApiOffering, ...] = ()


SECTION_TYPES: dict[str, type[Entry]] = {
    "gpus": Gpu,
    "rental_offers": RentalOffer,
    "purchase_options": PurchaseOption,
    "models": Model,
    "quantizations": Quantization,
    "engines": EngineProfile,
    "apis": ApiOffering,
}
