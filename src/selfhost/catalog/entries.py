"""The catalog as plain frozen data: what `load_catalog` returns, validated or read from the cache.

`selfhost.catalog.schema` validates the YAML (pydantic); its result is dumped to JSON-ready data
(``model_dump(mode="json")``) and turned into these dataclasses by `catalog_from_json`, the one
path both a fresh load and a cache hit take, so an entry behaves the same whichever way it
came. Reading them back needs neither pydantic nor YAML, which keeps a cached run's start-up
short. Each class has the fields of the schema model of the same name, in the same order
(a test holds them together), and the two pydantic methods the code base uses on entries,
`model_dump` and `model_copy`; type checkers see the schema classes (see `selfhost.catalog`).

Units and meanings of the fields: the schema's field descriptions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="Plain")


class Plain:
    """What every catalog dataclass answers besides its fields: pydantic's dump and copy."""

    __slots__ = ()
    model_fields: ClassVar[dict[str, dataclasses.Field[Any]]]

    def model_dump(self, *, mode: str = "python", exclude: set[str] | None = None) -> dict[str, Any]:
        """The fields as a dict, nested entries as dicts; ``mode="json"``: dates as ISO text, lists."""
        return {
            f.name: _dump(getattr(self, f.name), mode)
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if not exclude or f.name not in exclude
        }

    def model_copy(self: T, *, update: Mapping[str, Any] | None = None) -> T:
        """A copy with the fields in ``update`` replaced (not validated, as in pydantic)."""
        return dataclasses.replace(self, **(update or {}))  # type: ignore[type-var]


def _dump(value: Any, mode: str) -> Any:
    if isinstance(value, Plain):
        return value.model_dump(mode=mode)
    if isinstance(value, dict):
        return {k: _dump(v, mode) for k, v in value.items()}
    if isinstance(value, tuple):
        items = [_dump(v, mode) for v in value]
        return items if mode == "json" else tuple(items)
    if mode == "json" and isinstance(value, dt.date):
        return value.isoformat()
    return value


frozen = dataclass(frozen=True, kw_only=True, slots=True)


@frozen
class Entry(Plain):
    id: str
    aliases: tuple[str, ...] = ()
    source: str
    as_of: dt.date
    confirmed: bool = True
    notes: str = ""


@frozen
class Gpu(Entry):
    name: str
    vendor: str
    memory_gb: float
    device_memory_gb: float
    max_memory_fraction: float = 1.0
    memory_bandwidth_gb_s: float
    bf16_tflops: float
    fp8_tflops: float | None = None
    int8_tops: float | None = None
    power_w: float
    interconnect: str
    interconnect_gb_s: float
    max_gpus_per_node: int
    platform: str


@frozen
class RentalOffer(Entry):
    provider: str
    gpu: str
    usd_per_gpu_hour: float
    instance_gpus: int = 1
    pricing: str = "on-demand"
    region: str = ""


@frozen
class PurchaseOption(Entry):
    gpu: str
    description: str
    usd_per_gpu: float
    amortization_months: float
    watts_per_gpu: float
    usd_per_kwh: float
    pue: float = 1.0
    hosting_usd_per_gpu_month: float = 0.0
    instance_gpus: int = 1


@frozen
class MoeSpec(Plain):
    n_routed_experts: int
    num_experts_per_tok: int
    n_shared_experts: int = 0
    moe_intermediate_size: int
    first_k_dense_replace: int = 0
    layer_freq: int = 1
    decoder_sparse_step: int = 1
    mlp_only_layers: tuple[int, ...] = ()
    router_score_bias: bool = False


@frozen
class MlaSpec(Plain):
    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int | None = None


@frozen
class Architecture(Plain):
    hf_architecture: str
    num_hidden_layers: int
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False
    num_nextn_predict_layers: int = 0
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None


@frozen
class Model(Entry):
    name: str
    hf_repo: str
    architecture: Architecture
    params_total_b: float
    params_active_b: float
    max_context_tokens: int
    native_dtype: str = "bf16"
    license: str
    license_allows_production: bool
    tags: tuple[str, ...] = ()
    quality_tier: str
    release_date: dt.date | None = None


@frozen
class Quantization(Entry):
    name: str
    linear_bits_per_weight: float
    embedding_bits_per_weight: float
    lm_head_bits_per_weight: float
    compute_dtype: str
    platforms: tuple[str, ...]
    engines: tuple[str, ...]


@frozen
class PlatformEfficiency(Plain):
    memory_bandwidth_utilization: float
    compute_utilization: float
    step_overhead_s: float


@frozen
class EngineProfile(Entry):
    name: str
    platforms: tuple[str, ...]
    gpu_memory_utilization: float
    runtime_overhead_gb: float
    memory_bandwidth_utilization: float
    compute_utilization: float
    step_overhead_s: float
    allreduce_latency_s: float
    interconnect_bandwidth_utilization: float = 1.0
    max_batch_sequences: int
    multi_gpu: str = "tensor-parallel"
    platform_efficiency: dict[str, PlatformEfficiency] = field(default_factory=dict)
    measured_gpus: tuple[str, ...] = ()


@frozen
class ApiOffering(Entry):
    provider: str
    api_model: str
    usd_per_mtok_input: float
    usd_per_mtok_output: float
    usd_per_mtok_cached_input: float | None = None
    quality_tier: str
    equivalent_model: str | None = None
    context_tokens: int | None = None
    base_url: str = ""
    deprecated: bool = False


@frozen
class Catalog(Plain):
    """Every section as a tuple of its entries (`SECTION_TYPES`), in the schema's order."""

    gpus: tuple[Gpu, ...] = field(default=())
    rental_offers: tuple[RentalOffer, ...] = field(default=())
    purchase_options: tuple[PurchaseOption, ...] = field(default=())
    models: tuple[Model, ...] = field(default=())
    quantizations: tuple[Quantization, ...] = field(default=())
    engines: tuple[EngineProfile, ...] = field(default=())
    apis: tuple[ApiOffering, ...] = field(default=())


#: Each catalog section's entry class.
SECTION_TYPES: dict[str, type[Entry]] = dict(
    zip(
        (f.name for f in dataclasses.fields(Catalog)),  # type: ignore[arg-type]
        (Gpu, RentalOffer, PurchaseOption, Model, Quantization, EngineProfile, ApiOffering),
        strict=True,
    )
)
CLASSES: tuple[type[Plain], ...] = (
    Entry, *SECTION_TYPES.values(), MoeSpec, MlaSpec, Architecture, PlatformEfficiency, Catalog,
)  # fmt: skip
for _cls in CLASSES:
    _cls.model_fields = {f.name: f for f in dataclasses.fields(_cls)}  # type: ignore[arg-type]

_NESTED: dict[str, type[Plain]] = {"architecture": Architecture, "moe": MoeSpec, "mla": MlaSpec}
_DATES = frozenset({"as_of", "release_date"})


def _build(cls: type[T], data: Mapping[str, Any]) -> T:
    """One dataclass from its JSON data: dates parsed, lists as tuples, nested entries built."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if value is None:
            values[key] = None
        elif key in _DATES:
            values[key] = dt.date.fromisoformat(value)
        elif key in _NESTED:
            values[key] = _build(_NESTED[key], value)
        elif key == "platform_efficiency":
            values[key] = {k: _build(PlatformEfficiency, v) for k, v in value.items()}
        elif isinstance(value, list):
            values[key] = tuple(value)
        else:
            values[key] = value
    return cls(**values)


def catalog_from_json(data: Mapping[str, Any]) -> Catalog:
    """The catalog of a ``Catalog.model_dump(mode="json")`` document.

    Raises KeyError, TypeError or ValueError (AttributeError for a wrong nesting) when the
    data is not such a document; the cache treats any of them as a miss.
    """
    sections = {name: tuple(_build(cls, item) for item in data[name]) for name, cls in SECTION_TYPES.items()}
    if set(data) != set(sections):
        raise KeyError(f"unexpected catalog sections: {sorted(set(data) ^ set(sections))}")
    return Catalog(**sections)
