"""The catalog as plain frozen data: what `load_catalog` returns, validated or read from the cache.

`selfhost.catalog.schema` validates the YAML (pydantic); its result is dumped to JSON-ready data
(``model_dump(mode="json")``) and turned into these records by `catalog_from_json`, the one
path both a fresh load and a cache hit take, so an entry behaves the same whichever way it
came. Reading them back needs neither pydantic nor YAML, which keeps a cached run's start-up
short. Each class has the fields of the schema model of the same name, in the same order
(a test holds them together), and the two pydantic methods the code base uses on entries,
`model_dump` and `model_copy`; type checkers see the schema classes (see `selfhost.catalog`).

The records are frozen dataclass-like objects (keyword construction, equality and hash by
field, immutable, a readable repr) made by one small base class rather than `dataclasses`,
whose code generation would cost more start-up time than the rest of this module.

Units and meanings of the fields: the schema's field descriptions.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Mapping
from dataclasses import FrozenInstanceError
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="Plain")
REQUIRED: Any = object()  # a field without a default
NONE: tuple[Any, ...] = ()  # an empty section


class Factory:
    """A default made anew for each record (as ``dataclasses.field(default_factory=...)``)."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


class Plain:
    """A frozen record: the annotated class attributes are its fields, their values the defaults.

    ``model_fields`` maps each field, the base classes' first, to its default (`REQUIRED` if none).
    """

    model_fields: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls.model_fields)
        for name, annotation in inspect.get_annotations(cls).items():
            if not str(annotation).startswith("ClassVar"):
                fields[name] = cls.__dict__.get(name, REQUIRED)
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - self.model_fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}")
        state = self.__dict__
        for name, default in self.model_fields.items():
            if name in values:
                state[name] = values[name]
            elif default is REQUIRED:
                raise TypeError(f"{type(self).__name__} needs the field {name!r}")
            else:
                state[name] = default.make() if isinstance(default, Factory) else default

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), *self.__dict__.values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields})"

    def model_dump(self, *, mode: str = "python", exclude: set[str] | None = None) -> dict[str, Any]:
        """The fields as a dict, nested entries as dicts; ``mode="json"``: dates as ISO text, lists."""
        return {k: _dump(v, mode) for k, v in self.__dict__.items() if not exclude or k not in exclude}

    def model_copy(self: T, *, update: Mapping[str, Any] | None = None) -> T:
        """A copy with the fields in ``update`` replaced (not validated, as in pydantic)."""
        return type(self)(**{**self.__dict__, **(update or {})})


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


class Entry(Plain):
    id: str
    aliases: tuple[str, ...] = ()
    source: str
    as_of: dt.date
    confirmed: bool = True
    notes: str = ""


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
    fp4_tflops: float | None = None
    power_w: float
    interconnect: str
    interconnect_gb_s: float
    interconnect_both_directions: bool = False
    max_gpus_per_node: int
    platform: str


class RentalOffer(Entry):
    provider: str
    gpu: str
    usd_per_gpu_hour: float
    instance_gpus: int = 1
    pricing: str = "on-demand"
    region: str = ""


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
    router_bias: bool = False
    expert_bias: bool = False


class MlaSpec(Plain):
    kv_lora_rank: int
    qk_rope_head_dim: int
    qk_nope_head_dim: int
    v_head_dim: int
    q_lora_rank: int | None = None


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
    attention_sinks: bool = False
    windowed_layers: int = 0
    attention_window_tokens: int = 0
    moe: MoeSpec | None = None
    mla: MlaSpec | None = None


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


class Quantization(Entry):
    name: str
    linear_bits_per_weight: float
    embedding_bits_per_weight: float
    lm_head_bits_per_weight: float
    expert_bits_per_weight: float | None = None
    compute_dtype: str
    platforms: tuple[str, ...]
    engines: tuple[str, ...]


class PlatformEfficiency(Plain):
    memory_bandwidth_utilization: float
    compute_utilization: float
    step_overhead_s: float | None = None


class GpuEfficiency(Plain):
    memory_bandwidth_utilization: float | None = None
    compute_utilization: float | None = None
    step_overhead_s: float | None = None
    source: str
    points: int = 0
    notes: str = ""


class EngineGeneration(Plain):
    id: str
    before_version: str
    step_overhead_s: float | None = None
    step_overhead_per_sequence_s: float | None = None
    kv_read_per_query_head: bool = False
    source: str
    notes: str = ""


class EngineProfile(Entry):
    name: str
    platforms: tuple[str, ...]
    gpu_memory_utilization: float
    runtime_overhead_gb: float
    memory_bandwidth_utilization: float
    compute_utilization: float
    step_overhead_s: float
    allreduce_latency_s: float
    step_overhead_per_sequence_s: float = 0.0
    expert_efficiency: float = 1.0
    interconnect_bandwidth_utilization: float = 1.0
    max_batch_sequences: int
    fit_batch_cap: bool = True
    multi_gpu: str = "tensor-parallel"
    pipeline_parallel: bool = False
    dp_attention: bool = False
    platform_efficiency: dict[str, PlatformEfficiency] = Factory(dict)  # type: ignore[assignment]
    gpu_efficiency: dict[str, GpuEfficiency] = Factory(dict)  # type: ignore[assignment]
    generations: tuple[EngineGeneration, ...] = ()
    measured_gpus: tuple[str, ...] = ()
    measured_layouts: tuple[str, ...] = ()


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


class Catalog(Plain):
    """Every section as a tuple of its entries (`SECTION_TYPES`), in the schema's order."""

    gpus: tuple[Gpu, ...] = NONE
    rental_offers: tuple[RentalOffer, ...] = NONE
    purchase_options: tuple[PurchaseOption, ...] = NONE
    models: tuple[Model, ...] = NONE
    quantizations: tuple[Quantization, ...] = NONE
    engines: tuple[EngineProfile, ...] = NONE
    apis: tuple[ApiOffering, ...] = NONE


#: Each catalog section's entry class.
SECTION_TYPES: dict[str, type[Entry]] = dict(
    zip(
        Catalog.model_fields,
        (Gpu, RentalOffer, PurchaseOption, Model, Quantization, EngineProfile, ApiOffering),
        strict=True,
    )
)
CLASSES: tuple[type[Plain], ...] = (
    Entry, *SECTION_TYPES.values(), MoeSpec, MlaSpec, Architecture, PlatformEfficiency, GpuEfficiency, EngineGeneration, Catalog,
)  # fmt: skip

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
        elif key == "gpu_efficiency":
            values[key] = {k: _build(GpuEfficiency, v) for k, v in value.items()}
        elif key == "generations":
            values[key] = tuple(_build(EngineGeneration, v) for v in value)
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
