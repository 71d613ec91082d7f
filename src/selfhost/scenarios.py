"""Scenarios: turn catalog entries into the NumPy arrays the engine takes.

A *replica config* is one way to serve a model: model x quantization x GPU x GPU count x
serving engine. A *price option* is one way to pay for that GPU: a rental offer or owned
hardware turned into an hourly rate. The grid a command asks for is the product of the two,
built here so the CLI does no arithmetic and the engine knows nothing of the catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import numpy as np
from numpy.typing import ArrayLike

from selfhost.catalog.architecture import count_params_for
from selfhost.engine import cost, memory, throughput
from selfhost.engine.params import ParamCounts, kv_bytes_per_token
from selfhost.engine.throughput import ServingArrays
from selfhost.errors import InputError
from selfhost.units import BITS_PER_BYTE, BYTES_PER_GB, FLOPS_PER_TFLOP, PARAMS_PER_BILLION

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog, EngineProfile, Gpu, Model, Quantization

T = TypeVar("T")
U = TypeVar("U")
KvDtype = Literal["auto", "bf16", "fp8"]
KV_BYTES_PER_ELEMENT: dict[str, float] = {"auto": 2.0, "bf16": 2.0, "fp8": 1.0}  # auto = BF16/FP16 cache
ENGINE_PREFERENCE = ("vllm", "sglang", "tensorrt-llm", "llama.cpp", "mlx")
DEFAULT_GPU_COUNTS = (1, 2, 4, 8)
PricingKind = Literal["on-demand", "committed", "spot", "marketplace", "owned"]
PRICING_KINDS: tuple[str, ...] = ("on-demand", "committed", "spot", "marketplace", "owned")


@dataclass(frozen=True)
class Workload:
    """What one request looks like and the latency it must meet.

    input_tokens, output_tokens : Mean prompt and completion length. [tokens]
    context_tokens : Longest sequence one request may reach; fit requires one such sequence. [tokens]
    max_tpot_ms : Time-per-output-token target. [ms]
    max_ttft_ms : Time-to-first-token target. [ms]
    kv_dtype : KV-cache element type.
    """

    input_tokens: int
    output_tokens: int
    context_tokens: int
    max_tpot_ms: float
    max_ttft_ms: float
    kv_dtype: KvDtype = "auto"


def capacity_within_targets(
    serving: ServingArrays,
    workload: Workload,
    input_tokens: ArrayLike | None = None,
    output_tokens: ArrayLike | None = None,
) -> throughput.Capacity:
    """`throughput.capacity` of ``serving`` under the workload's TPOT and TTFT targets (ms, given
    to the engine in s), at its mean lengths unless ``input_tokens`` / ``output_tokens`` give
    others (arrays, for many mixes). [tokens]"""
    return throughput.capacity(
        serving,
        workload.input_tokens if input_tokens is None else input_tokens,
        workload.output_tokens if output_tokens is None else output_tokens,
        workload.max_tpot_ms / 1000.0,
        workload.max_ttft_ms / 1000.0,
    )


#: The kinds of replica layout a measurement or deployment can have (`layout_kind`), as
#: `EngineProfile.measured_layouts` lists them.
LAYOUT_KINDS: tuple[str, ...] = (
    "single-gpu",
    "tensor-parallel",
    "pipeline-parallel",
    "dp-attention",
    "layer-split",
)


def layout_kind(n_gpus: int, layer_split: bool, pipeline_stages: int, dp_attention: bool) -> str:
    """The kind of a replica's layout (one of `LAYOUT_KINDS`): one GPU; the layers split over the
    GPUs (llama.cpp); data-parallel attention with expert parallelism; pipeline stages (tensor
    parallel within each); or tensor parallel only."""
    if n_gpus == 1:
        return "single-gpu"
    if layer_split:
        return "layer-split"
    if dp_attention:
        return "dp-attention"
    if pipeline_stages > 1:
        return "pipeline-parallel"
    return "tensor-parallel"


@dataclass(frozen=True)
class ReplicaConfig:
    """One way to serve a model: a replica of ``n_gpus`` GPUs, split as the engine splits models
    (tensor parallel, or by layers), in ``pipeline_stages`` stages (tensor parallel within each),
    and with attention data parallel over the GPUs where ``dp_attention`` (MoE models on vLLM
    and SGLang: each GPU keeps its own sequences' KV; the experts are split over all GPUs)."""

    model: Model
    quant: Quantization
    gpu: Gpu
    n_gpus: int
    engine: EngineProfile
    pipeline_stages: int = 1
    dp_attention: bool = False

    @property
    def tensor_parallel(self) -> int:
        """GPUs that split every layer: the GPUs of one stage (1 for an engine that splits by layers)."""
        if self.engine.multi_gpu == "layer-split":
            return 1
        return self.n_gpus // self.pipeline_stages

    @property
    def layout(self) -> str:
        """The split in the engines' own terms: 'TP8', 'TP8 x PP2', 'DP8 attention + EP8', 'layers x4'."""
        if self.n_gpus == 1:
            return "1 GPU"
        if self.engine.multi_gpu == "layer-split":
            return f"layers x{self.n_gpus}"
        if self.dp_attention:
            return f"DP{self.n_gpus} attention + EP{self.n_gpus}"
        if self.pipeline_stages > 1:
            return f"TP{self.tensor_parallel} x PP{self.pipeline_stages}"
        return f"TP{self.n_gpus}"

    @property
    def gpu_measured(self) -> bool:
        """Whether published measurements on this GPU stand behind the engine profile's fit."""
        return self.gpu.id in self.engine.measured_gpus

    @property
    def layout_kind(self) -> str:
        """`layout_kind` of this replica."""
        return layout_kind(
            self.n_gpus, self.engine.multi_gpu == "layer-split", self.pipeline_stages, self.dp_attention
        )

    @property
    def layout_measured(self) -> bool:
        """Whether published measurements with this kind of layout stand behind the engine profile's
        fit (a pipeline or data-parallel-attention replica of a profile fitted on tensor-parallel
        runs only is the roofline's extrapolation)."""
        return self.layout_kind in self.engine.measured_layouts

    @property
    def label(self) -> str:
        split = "" if self.n_gpus == 1 else f"{self.layout}, "
        return f"{self.model.id} {self.quant.id} on {self.n_gpus} {self.gpu.id} ({split}{self.engine.id})"


class ConfigTable(Sequence[ReplicaConfig]):
    """Replica configs held as columns: the distinct catalog entries once, and per config the
    index of its entry of each kind (``model``, ``quant``, ``gpu``, ``engine``) with its GPU
    count, pipeline stages and data-parallel attention, shape (n_configs,) each.

    A sequence of `ReplicaConfig`: ``table[i]`` is made when first asked for and kept, so the
    same position gives the same object (code that tells configs apart by identity still
    can). The headline enumerates ~13,000 configs and shows a few dozen; the engine's inputs
    (`build_arrays`) and the grid's bookkeeping read the columns and never make the rest.
    """

    def __init__(
        self,
        entities: tuple[Sequence[Model], Sequence[Quantization], Sequence[Gpu], Sequence[EngineProfile]],
        columns: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        n_gpus: np.ndarray,
        stages: np.ndarray,
        dp_attention: np.ndarray,
    ) -> None:
        models, quants, gpus, engines = entities
        self.models: list[Model] = list(models)
        self.quants: list[Quantization] = list(quants)
        self.gpus: list[Gpu] = list(gpus)
        self.engines: list[EngineProfile] = list(engines)
        self.model, self.quant, self.gpu, self.engine = (np.asarray(c, dtype=np.intp) for c in columns)
        self.n_gpus = np.asarray(n_gpus, dtype=np.int64)
        self.stages = np.asarray(stages, dtype=np.int64)
        self.dp_attention = np.asarray(dp_attention, dtype=bool)
        self._made: list[ReplicaConfig | None] = [None] * len(self.model)

    @classmethod
    def of(cls, configs: Sequence[ReplicaConfig]) -> ConfigTable:
        """``configs`` as a table (itself when it is one); entries told apart by identity."""
        if isinstance(configs, ConfigTable):
            return configs
        entities, columns = [], []
        for kind in ("model", "quant", "gpu", "engine"):
            used = [getattr(c, kind) for c in configs]
            distinct = list({id(e): e for e in used}.values())
            position = {id(e): k for k, e in enumerate(distinct)}
            entities.append(distinct)
            columns.append(np.fromiter((position[id(e)] for e in used), dtype=np.intp, count=len(used)))
        table = cls(
            tuple(entities),  # type: ignore[arg-type]
            tuple(columns),  # type: ignore[arg-type]
            np.array([c.n_gpus for c in configs], dtype=np.int64),
            np.array([c.pipeline_stages for c in configs], dtype=np.int64),
            np.array([c.dp_attention for c in configs], dtype=bool),
        )
        table._made = list(configs)
        return table

    @classmethod
    def concat(cls, tables: Sequence[ConfigTable]) -> ConfigTable:
        """The configs of ``tables`` one after the other (entries are not merged across tables)."""
        if len(tables) == 1:
            return tables[0]
        entities: list[list[Any]] = [[], [], [], []]
        columns: list[list[np.ndarray]] = [[], [], [], []]
        for t in tables:
            for k, (mine, column) in enumerate(zip(t.entity_lists(), t.columns(), strict=True)):
                columns[k].append(column + len(entities[k]))
                entities[k].extend(mine)
        joined = [np.concatenate(c) if c else np.zeros(0, dtype=np.intp) for c in columns]
        table = cls(
            tuple(entities),  # type: ignore[arg-type]
            tuple(joined),  # type: ignore[arg-type]
            np.concatenate([t.n_gpus for t in tables]) if tables else np.zeros(0),
            np.concatenate([t.stages for t in tables]) if tables else np.zeros(0),
            np.concatenate([t.dp_attention for t in tables]) if tables else np.zeros(0),
        )
        table._made = [c for t in tables for c in t._made]
        return table

    def entity_lists(self) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        return self.models, self.quants, self.gpus, self.engines

    def columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.model, self.quant, self.gpu, self.engine

    def take(self, rows: np.ndarray) -> ConfigTable:
        """The configs at positions (or where the mask) ``rows``, in order; the same objects."""
        picked = np.arange(len(self))[rows]
        table = ConfigTable(
            self.entity_lists(),
            (self.model[picked], self.quant[picked], self.gpu[picked], self.engine[picked]),
            self.n_gpus[picked],
            self.stages[picked],
            self.dp_attention[picked],
        )
        made = self._made
        table._made = [made[i] for i in picked.tolist()]
        return table

    def used(self, kind: str) -> list[Any]:
        """The distinct entries of ``kind`` ('model', 'quant', 'gpu', 'engine') the configs use,
        in order of first use."""
        column = getattr(self, kind)
        entities = getattr(self, kind + "s")
        if not len(column):
            return []
        _, first = np.unique(column, return_index=True)
        return [entities[k] for k in column[np.sort(first)].tolist()]

    def __len__(self) -> int:
        return len(self._made)

    @overload
    def __getitem__(self, i: int) -> ReplicaConfig: ...

    @overload
    def __getitem__(self, i: slice) -> list[ReplicaConfig]: ...

    def __getitem__(self, i: int | slice) -> ReplicaConfig | list[ReplicaConfig]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        made = self._made[i]
        if made is None:
            i = i % len(self)
            made = self._made[i] = replica(
                self.models[self.model[i]],
                self.quants[self.quant[i]],
                self.gpus[self.gpu[i]],
                int(self.n_gpus[i]),
                self.engines[self.engine[i]],
                int(self.stages[i]),
                bool(self.dp_attention[i]),
            )
        return made

    def __iter__(self) -> Iterator[ReplicaConfig]:
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        """Equal to another sequence of the same configs, in order (a list of them too)."""
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ConfigTable({len(self)} configs)"


@dataclass(frozen=True)
class PriceOption:
    """One way to pay for a GPU, as an hourly rate per GPU billed in instances."""

    id: str
    provider: str
    pricing: str
    gpu_id: str
    usd_per_gpu_hour: float
    instance_gpus: int
    as_of: dt.date
    source: str
    confirmed: bool

    @classmethod
    def of(cls, entry: Any, gpu: Gpu, provider: str, pricing: str, usd_per_gpu_hour: float) -> PriceOption:
        """The option of a catalog offer or purchase ``entry`` of ``gpu`` (its id, instance size,
        date, source and confirmation), paid ``usd_per_gpu_hour``. [USD/GPU-hour]"""
        return cls(
            id=entry.id,
            provider=provider,
            pricing=pricing,
            gpu_id=gpu.id,
            usd_per_gpu_hour=usd_per_gpu_hour,
            instance_gpus=entry.instance_gpus,
            as_of=entry.as_of,
            source=entry.source,
            confirmed=entry.confirmed,
        )


# --------------------------------------------------------------------------- compatibility


def peak_tflops(gpu: Gpu, quant: Quantization) -> float:
    """Dense tensor throughput at the quantization's compute dtype. [TFLOP/s]

    FP8, INT8 or FP4 compute needs hardware support; without it (A100 has no FP8, Hopper no
    FP4) engines run the weights through BF16 kernels (weight-only, e.g. Marlin), so BF16 peak
    applies.
    """
    if quant.compute_dtype == "fp4" and gpu.fp4_tflops is not None:
        return gpu.fp4_tflops
    if quant.compute_dtype == "fp8" and gpu.fp8_tflops is not None:
        return gpu.fp8_tflops
    if quant.compute_dtype == "int8" and gpu.int8_tops is not None:
        return gpu.int8_tops
    return gpu.bf16_tflops


def platform_problem(quant: Quantization, gpu: Gpu, engine: EngineProfile) -> str | None:
    """Why this quantization cannot run on this GPU with this engine, or None."""
    if gpu.platform not in quant.platforms:
        return (
            f"{quant.id} does not run on {gpu.platform} ({gpu.id}); it runs on {', '.join(quant.platforms)}"
        )
    if gpu.platform not in engine.platforms:
        return f"engine {engine.id} does not run on {gpu.platform} ({gpu.id})"
    if engine.id not in quant.engines:
        return f"engine {engine.id} does not load {quant.id}; engines that do: {', '.join(quant.engines)}"
    return None


def model_quant_problem(model: Model, quant: Quantization) -> str | None:
    """Why ``quant`` does not apply to ``model``, or None: an experts-only format needs experts."""
    if quant.expert_bits_per_weight is not None and model.architecture.moe is None:
        return f"{quant.id} quantizes MoE experts only; {model.id} is a dense model"
    return None


def parallelism_problem(
    model: Model,
    gpu: Gpu,
    n_gpus: int,
    engine: EngineProfile,
    pipeline_stages: int = 1,
    dp_attention: bool = False,
) -> str | None:
    """Why ``engine`` cannot split ``model`` over ``n_gpus`` of ``gpu`` so, or None.

    Tensor parallelism splits the attention heads evenly (over the GPUs of one pipeline stage);
    pipeline stages need a layer each; a layer split needs a layer per GPU; data-parallel
    attention needs a MoE model whose experts the GPUs share out evenly.
    """
    if n_gpus > gpu.max_gpus_per_node and gpu.platform == "metal":
        return f"{gpu.id} cannot be combined with other devices"
    layers = model.architecture.num_hidden_layers
    if engine.multi_gpu == "layer-split":
        if n_gpus > layers:
            return f"{engine.id} splits layers: {model.id}'s {layers} layers cannot fill {n_gpus} GPUs"
        return None
    if dp_attention:
        moe = model.architecture.moe
        if moe is None:
            return f"data-parallel attention with expert parallelism needs a MoE model; {model.id} is dense"
        if moe.n_routed_experts % n_gpus:
            return f"{n_gpus} GPUs do not share {model.id}'s {moe.n_routed_experts} experts evenly"
        return None
    if n_gpus % pipeline_stages or pipeline_stages > layers:
        return f"{pipeline_stages} pipeline stages do not split {n_gpus} GPUs and {layers} layers"
    tensor = n_gpus // pipeline_stages
    heads = model.architecture.num_attention_heads
    if tensor > 1 and heads % tensor:
        return f"tensor parallel {tensor} does not divide {model.id}'s {heads} attention heads"
    return None


def layouts(model: Model, gpu: Gpu, n_gpus: int, engine: EngineProfile) -> list[tuple[int, bool]]:
    """The ways ``engine`` can spread a replica of ``n_gpus``: (pipeline stages, data-parallel attention).

    Within one node, tensor parallelism, and for a MoE model on an engine that can, data-parallel
    attention with expert parallelism too. A replica larger than a node runs one node per
    pipeline stage where the engine can (tensor parallelism across nodes would all-reduce every
    layer over the network); otherwise tensor parallel throughout.
    """
    if engine.multi_gpu == "layer-split" or n_gpus == 1:
        return [(1, False)]
    node = gpu.max_gpus_per_node
    if n_gpus > node:
        if engine.pipeline_parallel and n_gpus % node == 0:
            return [(n_gpus // node, False)]
        return [(1, False)]
    options = [(1, False)]
    if engine.dp_attention and model.architecture.moe is not None:
        options.append((1, True))
    return options


def compatibility_problem(
    model: Model, quant: Quantization, gpu: Gpu, n_gpus: int, engine: EngineProfile
) -> str | None:
    """Why this combination cannot run at all, or None. Memory fit is checked separately."""
    return (
        platform_problem(quant, gpu, engine)
        or model_quant_problem(model, quant)
        or parallelism_problem(model, gpu, n_gpus, engine)
    )


#: Engine fields a profile may set per platform (`EngineProfile.platform_efficiency`).
PLATFORM_FIELDS = ("memory_bandwidth_utilization", "compute_utilization", "step_overhead_s")


def engine_efficiency(engine: EngineProfile, platform: str, name: str, *, gpu: str | None = None) -> float:
    """An efficiency field of ``engine`` on ``platform`` (and GPU id ``gpu``): a user calibration's
    value for that GPU where there is one (`EngineProfile.gpu_efficiency`, written by `selfhost
    calibrate`), else the platform's own fit, else the profile's field."""
    if name in PLATFORM_FIELDS:
        mine = engine.gpu_efficiency.get(gpu) if gpu is not None else None
        for specific in (mine, engine.platform_efficiency.get(platform)):  # type: ignore[call-overload]
            if specific is not None and getattr(specific, name) is not None:
                return float(getattr(specific, name))
    return float(getattr(engine, name))


def default_engine(catalog: Catalog, quant: Quantization, gpu: Gpu) -> EngineProfile | None:
    """The preferred engine that runs this quantization on this platform (vLLM first)."""
    engines = {e.id: e for e in catalog.engines}
    for engine_id in (*ENGINE_PREFERENCE, *engines):
        engine = engines.get(engine_id)
        if engine and engine.id in quant.engines and gpu.platform in engine.platforms:
            return engine
    return None


def replica_configs(
    catalog: Catalog,
    *,
    models: Sequence[Model],
    quants: Sequence[Quantization],
    gpus: Sequence[Gpu],
    gpu_counts: Sequence[int] | None,
    engine: EngineProfile | None,
) -> ConfigTable:
    """Every runnable combination, ordered by model, quantization, GPU, GPU count, layout.

    ``gpu_counts=None`` means 1, 2, 4, 8 up to one node; each count in every `layouts` the engine
    has for the model. The quantization x GPU checks do not depend on the model, so they run once
    per pair rather than once per config; the table is built as index columns (`ConfigTable`),
    no config object made.
    """
    engines: list[EngineProfile] = []
    engine_position: dict[int, int] = {}
    runnable: list[tuple[int, int, int, Sequence[int]]] = []  # (quant, GPU, engine) positions, counts
    for qi, quant in enumerate(quants):
        for gi, gpu in enumerate(gpus):
            chosen = engine or default_engine(catalog, quant, gpu)
            if chosen is None or platform_problem(quant, gpu, chosen):
                continue
            ei = engine_position.get(id(chosen))
            if ei is None:
                ei = engine_position[id(chosen)] = len(engines)
                engines.append(chosen)
            counts = gpu_counts or [n for n in DEFAULT_GPU_COUNTS if n <= gpu.max_gpus_per_node]
            runnable.append((qi, gi, ei, counts))
    # the splits of a model do not depend on the quantization: once per model and distinct
    # (GPU, engine, counts), laid end to end in `ways`, found at `way_start`, `way_count` long
    keys = list(dict.fromkeys((gi, ei, tuple(counts)) for _, gi, ei, counts in runnable))
    key_of = {key: k for k, key in enumerate(keys)}
    ways: list[tuple[int, int, bool]] = []
    way_start = np.zeros((len(models), len(keys)), dtype=np.intp)
    way_count = np.zeros((len(models), len(keys)), dtype=np.intp)
    quant_ok = np.zeros((len(models), len(quants)), dtype=bool)
    for mi, model in enumerate(models):
        quant_ok[mi] = [model_quant_problem(model, q) is None for q in quants]
        for k, (gi, ei, counts) in enumerate(keys):
            gpu, chosen = gpus[gi], engines[ei]
            way_start[mi, k] = len(ways)
            ways.extend(
                (n, stages, dp)
                for n in counts
                for stages, dp in layouts(model, gpu, n, chosen)
                if parallelism_problem(model, gpu, n, chosen, stages, dp) is None
            )
            way_count[mi, k] = len(ways) - way_start[mi, k]
    # a block per (model, runnable pair), model-major: its ways where the model takes the quantization
    r_quant, r_gpu, r_engine = (np.array([r[j] for r in runnable], dtype=np.intp) for j in range(3))
    r_key = np.array([key_of[(gi, ei, tuple(counts))] for _, gi, ei, counts in runnable], dtype=np.intp)
    size = (way_count[:, r_key] * quant_ok[:, r_quant]).ravel()
    start = way_start[:, r_key].ravel()
    block = np.flatnonzero(size)
    size, start = size[block], start[block]
    block_model, block_pair = np.divmod(block, max(len(runnable), 1))
    first_row = np.cumsum(size) - size
    way_rows = np.repeat(start - first_row, size) + np.arange(int(size.sum()))
    way_table = np.array(ways, dtype=np.int64).reshape(-1, 3)[way_rows]
    return ConfigTable(
        (models, quants, gpus, engines),
        (
            np.repeat(block_model, size),
            np.repeat(r_quant[block_pair], size),
            np.repeat(r_gpu[block_pair], size),
            np.repeat(r_engine[block_pair], size),
        ),
        way_table[:, 0],
        way_table[:, 1],
        way_table[:, 2].astype(bool),
    )


def replica(
    model: Model, quant: Quantization, gpu: Gpu, n_gpus: int, engine: EngineProfile, stages: int, dp: bool
) -> ReplicaConfig:
    """``ReplicaConfig(model, quant, gpu, n_gpus, engine, stages, dp)``, made without the frozen
    dataclass's one ``object.__setattr__`` call per field: the same object (a test holds them
    equal, field by field), in under half the time, for the tens of thousands the catalog's
    enumeration makes on every run."""
    config = object.__new__(ReplicaConfig)
    config.__dict__.update(
        model=model,
        quant=quant,
        gpu=gpu,
        n_gpus=n_gpus,
        engine=engine,
        pipeline_stages=stages,
        dp_attention=dp,
    )
    return config


# --------------------------------------------------------------------------- arrays


def model_param_counts(model: Model) -> ParamCounts:
    """Parameter breakdown from the architecture (embedding, head, routed experts...)."""
    return count_params_for(model.architecture)


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class MemoryArrays:
    """Memory figures per replica config, shape (n_configs,).

    weight_bytes, usable_bytes : [bytes]
    kv_bytes_per_token : Whole replica, copies held by tensor-parallel ranks included. [bytes/token]
    kv_bytes_per_token_model : The model's KV per token, one copy (config.json arithmetic). [bytes/token]
    kv_capacity_tokens : Tokens the cache holds when every layer keeps every token. [tokens]
    windowed_kv_bytes_per_token : Part of ``kv_bytes_per_token`` in windowed layers. [bytes/token]
    attention_window_tokens : Their window; 0 without windowed layers. [tokens]
    """

    weight_bytes: np.ndarray
    usable_bytes: np.ndarray
    kv_bytes_per_token: np.ndarray
    kv_bytes_per_token_model: np.ndarray
    kv_capacity_tokens: np.ndarray
    windowed_kv_bytes_per_token: np.ndarray | float = 0.0
    attention_window_tokens: np.ndarray | float = 0.0

    def sequence_kv_tokens(self, context_tokens: float | np.ndarray) -> np.ndarray:
        """All-layer KV tokens one sequence of ``context_tokens`` holds (the context itself
        unless the model has windowed layers; `memory.effective_context_tokens`). [tokens]"""
        return memory.effective_context_tokens(
            context_tokens,
            self.kv_bytes_per_token,
            self.windowed_kv_bytes_per_token,
            self.attention_window_tokens,
        )

    def capacity_tokens_at(self, context_tokens: float | np.ndarray) -> np.ndarray:
        """Context tokens the cache holds when every sequence is ``context_tokens`` long: vLLM's
        "GPU KV cache size" (max concurrency x max_model_len); ``kv_capacity_tokens`` without
        windowed layers. [tokens]"""
        c = np.asarray(context_tokens, dtype=float)
        held = self.sequence_kv_tokens(c)
        scaled = np.floor(self.kv_capacity_tokens * c / np.maximum(held, 1.0))
        return np.asarray(np.where(held < c, scaled, self.kv_capacity_tokens), dtype=float)


def _attention_flops_per_token_per_context(model: Model) -> float:
    """FLOPs per new token per cached token in attention (scores + weighted sum, 2 FLOPs/MAC).

    GQA/MHA: ``4 * L * heads * head_dim``. MLA in its absorbed decode form attends over the
    latent: ``2 * L * heads * ((kv_lora_rank + rope) + kv_lora_rank)``.
    """
    a = model.architecture
    if a.mla:
        return (
            2.0
            * a.num_hidden_layers
            * a.num_attention_heads
            * (2 * a.mla.kv_lora_rank + a.mla.qk_rope_head_dim)
        )
    return 4.0 * a.num_hidden_layers * a.num_attention_heads * a.head_dim


def _prefill_attention_flops_per_token_per_context(model: Model) -> float:
    """Prefill's attention FLOPs per prompt token per earlier prompt token; 0 where prefill attends
    as decode does (GQA/MHA).

    MLA: vLLM and SGLang prefill as multi-head attention over keys and values up-projected from
    the latent ('compute friendly' for prefill, 'data-movement friendly' absorbed form for decode:
    vllm-project/vllm vllm/v1/attention/backends/mla/common.py), so scores over ``d_n + d_r``
    and values over ``d_v`` per head: ``2 * L * heads * (qk_nope + rope + v_head)`` (DeepSeek-V3:
    2 x 61 x 128 x 320 = 4,997,120, against decode's 2 x 61 x 128 x 1,088 = 16,990,208).
    """
    a = model.architecture
    if not a.mla:
        return 0.0
    m = a.mla
    return (
        2.0
        * a.num_hidden_layers
        * a.num_attention_heads
        * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim)
    )


@dataclass(frozen=True)
class _ModelConstants:
    """Per-model figures that do not depend on the GPU or quantization."""

    params_total: float
    params_embedding: float
    params_lm_head: float
    params_experts_routed: float
    params_attention: float
    expert_flops_per_token: float
    embedding_tied: bool
    expert_active_fraction: float
    attention_window_tokens: float
    kv_heads_for_replication: float
    num_layers: float
    hidden_size: float
    flops_per_token: float
    attention_flops_per_token_per_context: float
    prefill_attention_flops_per_token_per_context: float


def _model_constants(model: Model) -> _ModelConstants:
    a = model.architecture
    counts = model_param_counts(model)
    return _ModelConstants(
        params_total=model.params_total_b * PARAMS_PER_BILLION,
        params_embedding=float(counts.embedding),
        params_lm_head=float(counts.lm_head),
        params_experts_routed=float(counts.mlp_experts_routed),
        params_attention=float(counts.attention),
        # the routed experts a token uses: k of E, one multiply-add per weight
        expert_flops_per_token=2.0
        * counts.mlp_experts_routed
        * (a.moe.num_experts_per_tok / a.moe.n_routed_experts)
        if a.moe
        else 0.0,
        embedding_tied=a.tie_word_embeddings,
        expert_active_fraction=a.moe.num_experts_per_tok / a.moe.n_routed_experts if a.moe else 0.0,
        attention_window_tokens=float(a.attention_window_tokens),
        kv_heads_for_replication=1.0 if a.mla else float(a.num_key_value_heads),
        num_layers=float(a.num_hidden_layers),
        hidden_size=float(a.hidden_size),
        # Embedding lookups cost no FLOPs; every other active weight is one multiply-add per token.
        # A tied embedding is also the output head, a real matmul.
        flops_per_token=2.0
        * (model.params_active_b * PARAMS_PER_BILLION - (0 if a.tie_word_embeddings else counts.embedding)),
        attention_flops_per_token_per_context=_attention_flops_per_token_per_context(model),
        prefill_attention_flops_per_token_per_context=_prefill_attention_flops_per_token_per_context(model),
    )


class _Lookup(Generic[T]):
    """The distinct entities of one kind among the configs, and each config's index into them.

    Columns are computed once per entity and spread to configs by fancy indexing, so building
    arrays for thousands of configs costs a handful of small Python loops; the indices are a
    `ConfigTable`'s columns, not a loop over the configs (the headline has ~13,000 of them).
    """

    def __init__(self, entities: list[T], index: np.ndarray) -> None:
        self.entities = entities
        self.index = index

    @classmethod
    def pairs(cls, a: _Lookup[Any], b: _Lookup[Any]) -> _Lookup[tuple[Any, Any]]:
        """The distinct (a, b) pairs of two lookups over the same configs."""
        width = len(b.entities)
        codes, index = np.unique(a.index * width + b.index, return_inverse=True)
        entities = [(a.entities[c // width], b.entities[c % width]) for c in codes.tolist()]
        return _Lookup(entities, index.reshape(-1))

    def mapped(self, value: Callable[[T], U]) -> _Lookup[U]:
        """The same configs' lookup of ``value(entity)``, computed once per entity."""
        return _Lookup([value(e) for e in self.entities], self.index)

    def column(self, value: Callable[[T], float]) -> np.ndarray:
        per_entity = np.array([value(e) for e in self.entities], dtype=float)
        return np.asarray(per_entity[self.index], dtype=float)


_CONSTANTS_CACHE: dict[int, tuple[Model, _ModelConstants]] = {}


def _kv_bytes_per_token_bf16(models: Sequence[Model]) -> tuple[np.ndarray, np.ndarray]:
    """Each model's BF16 KV cache per token, all layers and its windowed layers' share, one
    vectorized `kv_bytes_per_token` call for all of them. [bytes/token], shape (n_models,) each."""
    a = [m.architecture for m in models]
    shape: dict[str, Any] = {
        "num_key_value_heads": [x.num_key_value_heads for x in a],
        "head_dim": [x.head_dim for x in a],
        "kv_bytes_per_element": KV_BYTES_PER_ELEMENT["bf16"],
    }
    every = kv_bytes_per_token(
        num_hidden_layers=[x.num_hidden_layers for x in a],
        mla_kv_lora_rank=[x.mla.kv_lora_rank if x.mla else 0 for x in a],
        mla_qk_rope_head_dim=[x.mla.qk_rope_head_dim if x.mla else 0 for x in a],
        **shape,
    )
    windowed = kv_bytes_per_token(num_hidden_layers=[x.windowed_layers for x in a], **shape)
    return np.asarray(every, dtype=float).reshape(-1), np.asarray(windowed, dtype=float).reshape(-1)


def _model_constants_cached(model: Model) -> _ModelConstants:
    """`_model_constants` once per model object (entries are frozen, so this is safe)."""
    hit = _CONSTANTS_CACHE.get(id(model))
    if hit is None or hit[0] is not model:
        hit = (model, _model_constants(model))
        _CONSTANTS_CACHE[id(model)] = hit
    return hit[1]


def interconnect_one_direction_gb_s(gpu: Gpu) -> float:
    """GPU-to-GPU bandwidth per GPU in one direction, what a ring all-reduce runs at. [GB/s]

    Every GPU of the ring sends to the next and receives from the previous one at the same time
    over full-duplex links, so each transfer has one direction's bandwidth: NVLink and Infinity
    Fabric are quoted as two-direction totals (``interconnect_both_directions``: half of it), the
    PCIe figures per direction.
    """
    return gpu.interconnect_gb_s / 2.0 if gpu.interconnect_both_directions else gpu.interconnect_gb_s


def build_arrays(
    configs: Sequence[ReplicaConfig], kv_dtype: KvDtype = "auto"
) -> tuple[ServingArrays, MemoryArrays]:
    """Engine inputs for each replica config, in order, shape (n_configs,).

    Per-entity figures are computed once per model, quantization, GPU and engine; the memory
    arithmetic runs on whole arrays.
    """
    table = ConfigTable.of(configs)
    models = _Lookup(table.models, table.model).mapped(_model_constants_cached)
    quants = _Lookup(table.quants, table.quant)
    gpus = _Lookup(table.gpus, table.gpu)
    engines = _Lookup(table.engines, table.engine)
    pairs = _Lookup.pairs(gpus, quants)
    on_gpu = _Lookup.pairs(engines, gpus)

    def efficiency(name: str) -> np.ndarray:
        return on_gpu.column(lambda pair: engine_efficiency(pair[0], pair[1].platform, name, gpu=pair[1].id))

    n_gpus = table.n_gpus.astype(float)
    stages = table.stages.astype(float)
    dp_attention = table.dp_attention.astype(float)

    linear_bits = quants.column(lambda q: q.linear_bits_per_weight)
    expert_bits = quants.column(
        lambda q: q.linear_bits_per_weight if q.expert_bits_per_weight is None else q.expert_bits_per_weight
    )
    experts_routed = models.column(lambda m: m.params_experts_routed)
    attention_bytes = models.column(lambda m: m.params_attention) * linear_bits / BITS_PER_BYTE
    model_bytes = memory.weight_bytes(
        models.column(lambda m: m.params_total),
        models.column(lambda m: m.params_embedding),
        models.column(lambda m: m.params_lm_head),
        linear_bits,
        quants.column(lambda q: q.embedding_bits_per_weight),
        quants.column(lambda q: q.lm_head_bits_per_weight),
        experts_routed,
        expert_bits,
    )
    kv_scale = KV_BYTES_PER_ELEMENT[kv_dtype] / KV_BYTES_PER_ELEMENT["bf16"]
    kv_bf16, windowed_bf16 = _kv_bytes_per_token_bf16(table.models)
    kv_model = kv_bf16[table.model] * kv_scale
    layer_split = engines.column(lambda e: 1.0 if e.multi_gpu == "layer-split" else 0.0)
    tensor_parallel = np.where(layer_split > 0, 1.0, n_gpus / stages)
    # a layer split or a pipeline stage keeps each layer's KV on its GPUs: only tensor parallelism
    # replicates heads; data-parallel attention keeps each sequence's KV on one GPU
    replication = np.where(
        dp_attention > 0,
        1.0,
        memory.kv_replication_factor(tensor_parallel, models.column(lambda m: m.kv_heads_for_replication)),
    )
    kv_replica = kv_model * replication
    windowed_replica = windowed_bf16[table.model] * kv_scale * replication
    window = models.column(lambda m: m.attention_window_tokens)
    # data-parallel attention holds a whole copy of the attention weights on every GPU
    w_bytes = model_bytes + dp_attention * (n_gpus - 1.0) * attention_bytes
    usable = memory.usable_memory_bytes(
        n_gpus,
        gpus.column(lambda g: g.device_memory_gb * BYTES_PER_GB),
        gpus.column(lambda g: g.max_memory_fraction),
        engines.column(lambda e: e.gpu_memory_utilization),
        engines.column(lambda e: e.runtime_overhead_gb * BYTES_PER_GB),
    )
    kv_capacity = memory.kv_capacity_tokens(usable, w_bytes, kv_replica)
    # the input-embedding table is resident but a step reads one row per token
    embedding_bytes = (
        models.column(lambda m: 0.0 if m.embedding_tied else m.params_embedding)
        * quants.column(lambda q: q.embedding_bits_per_weight)
        / BITS_PER_BYTE
    )
    serving = ServingArrays(
        n_gpus=n_gpus,
        memory_bandwidth_bytes_s=gpus.column(lambda g: g.memory_bandwidth_gb_s * BYTES_PER_GB),
        peak_flops=pairs.column(lambda pair: peak_tflops(*pair) * FLOPS_PER_TFLOP),
        interconnect_bytes_s=gpus.column(lambda g: interconnect_one_direction_gb_s(g) * BYTES_PER_GB),
        weight_bytes=model_bytes,
        expert_weight_bytes=experts_routed * expert_bits / BITS_PER_BYTE,
        expert_active_fraction=models.column(lambda m: m.expert_active_fraction),
        kv_bytes_per_token=kv_replica,
        flops_per_token=models.column(lambda m: m.flops_per_token),
        attention_flops_per_token_per_context=models.column(
            lambda m: m.attention_flops_per_token_per_context
        ),
        prefill_attention_flops_per_token_per_context=models.column(
            lambda m: m.prefill_attention_flops_per_token_per_context
        ),
        num_layers=models.column(lambda m: m.num_layers),
        hidden_size=models.column(lambda m: m.hidden_size),
        kv_capacity_tokens=kv_capacity,
        memory_bandwidth_utilization=efficiency("memory_bandwidth_utilization"),
        compute_utilization=efficiency("compute_utilization"),
        step_overhead_s=efficiency("step_overhead_s"),
        allreduce_latency_s=engines.column(lambda e: e.allreduce_latency_s),
        step_overhead_per_sequence_s=engines.column(lambda e: e.step_overhead_per_sequence_s),
        expert_efficiency=engines.column(lambda e: e.expert_efficiency),
        expert_flops_per_token=models.column(lambda m: m.expert_flops_per_token),
        max_batch_sequences=engines.column(lambda e: e.max_batch_sequences),
        interconnect_bandwidth_utilization=engines.column(lambda e: e.interconnect_bandwidth_utilization),
        unread_weight_bytes=embedding_bytes,
        layer_split=layer_split,
        windowed_kv_bytes_per_token=windowed_replica,
        attention_window_tokens=window,
        pipeline_stages=stages,
        dp_attention=dp_attention,
        attention_weight_bytes=attention_bytes,
    )
    mem = MemoryArrays(
        weight_bytes=w_bytes,
        usable_bytes=usable,
        kv_bytes_per_token=kv_replica,
        kv_bytes_per_token_model=kv_model,
        kv_capacity_tokens=kv_capacity,
        windowed_kv_bytes_per_token=windowed_replica,
        attention_window_tokens=window,
    )
    return serving, mem


# --------------------------------------------------------------------------- prices


def price_options(
    catalog: Catalog,
    gpu: Gpu,
    *,
    pricing: Iterable[str],
    providers: Iterable[str] = (),
    hours_per_month: float,
) -> list[PriceOption]:
    """Rental offers and owned-hardware options for ``gpu``, filtered by pricing kind and provider."""
    kinds = set(pricing)
    wanted_providers = {p.lower() for p in providers}
    options = []
    for offer in catalog.rental_offers:
        if offer.gpu != gpu.id or offer.pricing not in kinds:
            continue
        if wanted_providers and offer.provider.lower() not in wanted_providers:
            continue
        options.append(PriceOption.of(offer, gpu, offer.provider, offer.pricing, offer.usd_per_gpu_hour))
    if "owned" in kinds and (not wanted_providers or "owned" in wanted_providers):
        for own in catalog.purchase_options:
            if own.gpu != gpu.id:
                continue
            rate = cost.owned_usd_per_gpu_hour(
                usd_per_gpu=own.usd_per_gpu,
                amortization_months=own.amortization_months,
                watts_per_gpu=own.watts_per_gpu,
                usd_per_kwh=own.usd_per_kwh,
                pue=own.pue,
                hosting_usd_per_gpu_month=own.hosting_usd_per_gpu_month,
                hours_per_month=hours_per_month,
            )
            options.append(PriceOption.of(own, gpu, "owned", "owned", float(rate)))
    return options


def check_pricing_kinds(kinds: Iterable[str]) -> list[str]:
    """Validate ``--pricing`` values; 'all' expands to every kind."""
    result: list[str] = []
    for kind in kinds:
        if kind == "all":
            result.extend(PRICING_KINDS)
        elif kind in PRICING_KINDS:
            result.append(kind)
        else:
            raise InputError(f"unknown --pricing '{kind}'; use one of: {', '.join(PRICING_KINDS)}, all")
    return list(dict.fromkeys(result))
