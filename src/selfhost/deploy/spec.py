"""A sized deployment, frozen: everything the kit's files are written from.

`kit_spec` takes the replica config the other commands price (model x quantization x GPU x count
x engine), the workload and its latency targets, the planned request rate and target utilization,
and asks the engine for the numbers the serve line needs: whether one full-context sequence fits,
the largest batch within KV memory and the latency targets (`throughput.capacity`), and the
capacity that batch sustains. `KitSettings` holds what sizing does not decide: names, ports and
TLS paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selfhost.analysis import LIMIT_WORDS
from selfhost.deploy.engines import ENGINE_RELEASES, KIT_ENGINES, PREQUANTIZED, QUANTIZATION
from selfhost.engine import cost, memory
from selfhost.errors import InputError
from selfhost.question import CostAssumptions, check_rate
from selfhost.scenarios import ReplicaConfig, Workload, build_arrays, capacity_within_targets
from selfhost.units import BYTES_PER_GB


@dataclass(frozen=True)
class KitSpec:
    """One sized deployment (one replica; the plan may run several).

    Layout: ``gpus_per_replica = tensor_parallel_size x pipeline_parallel_size x data_parallel_size``
    over ``nodes`` machines. ``max_num_seqs`` is the whole replica's concurrency cap. [sequences]
    Capacity figures are the throughput model's estimates (docs/method.md), not measurements.
    """

    model: str
    model_name: str
    weights: str
    served_model_name: str
    engine: str
    engine_version: str
    image: str
    quant: str
    quantization_flag: str | None
    gpu: str
    gpus_per_replica: int
    nodes: int
    tensor_parallel_size: int
    pipeline_parallel_size: int
    data_parallel_size: int
    data_parallel_attention: bool
    expert_parallel: bool
    max_model_len: int
    gpu_memory_utilization: float
    max_num_seqs: int
    kv_cache_dtype: str
    input_tokens: int
    output_tokens: int
    max_tpot_ms: float
    max_ttft_ms: float
    weights_gb: float
    kv_capacity_tokens: int
    capacity_rps_per_replica: float
    capacity_limit: str
    tpot_ms_at_capacity: float
    ttft_ms_at_capacity: float
    planned_rps: float
    target_utilization: float
    replicas: int
    gpu_measured: bool
    engine_confirmed: bool
    layout_measured: bool = True
    layout: str = ""

    @property
    def planned_rps_per_replica(self) -> float:
        """Request rate one replica is planned to carry: capacity x target utilization. [requests/s]"""
        return self.capacity_rps_per_replica * self.target_utilization

    @property
    def gpus_per_node(self) -> int:
        return self.gpus_per_replica // self.nodes

    def record(self) -> dict[str, Any]:
        """Plain JSON-safe fields (no secrets live here), with the derived rate."""
        return {**asdict(self), "planned_rps_per_replica": self.planned_rps_per_replica}


@dataclass(frozen=True)
class KitSettings:
    """What the kit needs beyond sizing: where it listens, its TLS files, its name.

    server_name : Host name clients use (nginx server_name, certificate name, client base URL).
    https_port : Port nginx listens on for clients. engine_port, prometheus_port,
        node_exporter_port : Loopback-only ports of the other services. [port]
    tls_cert, tls_key : The user's certificate and key (None: the kit's own under tls/).
    """

    server_name: str = "localhost"
    https_port: int = 443
    engine_port: int = 8000
    prometheus_port: int = 9090
    node_exporter_port: int = 9100
    tls_cert: Path | None = None
    tls_key: Path | None = None
    extra_names: tuple[str, ...] = field(default=())

    @property
    def base_url(self) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.server_name}{port}/v1"


def _layout(config: ReplicaConfig, data_parallel_size: int) -> tuple[int, int, int]:
    """(nodes, tensor parallel, pipeline parallel) for the replica's GPUs.

    One node: tensor parallel over its GPUs. A replica larger than a node: pipeline parallel
    across nodes, tensor parallel within each.
    """
    n, per_node = config.n_gpus, config.gpu.max_gpus_per_node
    if data_parallel_size < 1 or n % data_parallel_size:
        raise InputError(f"data parallel size {data_parallel_size} must divide the replica's {n} GPUs")
    nodes = math.ceil(n / per_node)
    if n % nodes:
        raise InputError(
            f"{n} GPUs do not split evenly over {nodes} nodes of {per_node} {config.gpu.id}; "
            f"use a multiple of {per_node}"
        )
    pp = nodes
    tp = n // (pp * data_parallel_size)
    if tp < 1 or tp * pp * data_parallel_size != n:
        raise InputError(f"data parallel size {data_parallel_size} does not fit {n} GPUs on {nodes} node(s)")
    return nodes, tp, pp


def fewest_gpus_kit(
    configs: Sequence[ReplicaConfig], workload: Workload, costs: CostAssumptions, **options: Any
) -> KitSpec:
    """`kit_spec` of the first config (fewest GPUs first) that serves ``workload``, its replicas
    counted at the target utilization and minimum replica count of ``costs``.

    Raises:
        InputError: none does; the message is the first config's reason.
    """
    first: InputError | None = None
    for config in sorted(configs, key=lambda c: c.n_gpus):
        try:
            return kit_spec(
                config,
                workload,
                target_utilization=costs.target_utilization,
                min_replicas=costs.min_replicas,
                **options,
            )
        except InputError as exc:
            first = first or exc
    raise first or InputError("no GPU count in the selection serves this workload")


def kit_spec(
    config: ReplicaConfig,
    workload: Workload,
    *,
    rps: float,
    target_utilization: float,
    min_replicas: int = 1,
    served_model_name: str | None = None,
    weights: str | None = None,
) -> KitSpec:
    """Size one replica of ``config`` for ``workload`` and freeze what its kit needs.

    The replica runs the config's layout: one with data-parallel attention runs attention DP
    over all its GPUs and the experts EP over them.

    Raises:
        InputError: the engine has no kit, the format needs a pre-quantized checkpoint and
            ``weights`` is not given, the context exceeds the model, one full-context sequence
            does not fit, or no batch meets the latency targets.
    """
    engine = config.engine.id
    if engine not in KIT_ENGINES:
        raise InputError(
            f"selfhost deploy writes kits for {', '.join(KIT_ENGINES)}, not {engine}; pass --engine vllm or sglang"
        )
    if config.gpu.platform != "cuda":
        raise InputError(
            f"selfhost deploy writes kits for NVIDIA (CUDA) GPUs; {config.gpu.id} is {config.gpu.platform}: "
            "pick a CUDA GPU (--gpu, or plan with --gpu)"
        )
    data_parallel_size = config.n_gpus if config.dp_attention else 1
    quant_flags = QUANTIZATION[engine]
    if config.quant.id not in quant_flags:
        raise InputError(
            f"{engine} kits cannot serve {config.quant.id}; use one of: {', '.join(quant_flags)}"
        )
    native = config.quant.id == config.model.native_dtype
    if weights is None and (config.quant.id in PREQUANTIZED or (config.quant.id == "bf16" and not native)):
        raise InputError(
            f"{config.quant.id} weights of {config.model.id} are a separate checkpoint: pass --weights "
            f"with its Hugging Face repo or a local path (a {config.quant.name} checkpoint of {config.model.hf_repo})"
        )
    if workload.context_tokens > config.model.max_context_tokens:
        raise InputError(
            f"--context {workload.context_tokens} exceeds {config.model.id}'s maximum of "
            f"{config.model.max_context_tokens} tokens"
        )
    check_rate(rps)  # finite, >= 0 and at most selfhost.limits.MAX_RATE_RPS
    nodes, tp, pp = _layout(config, data_parallel_size)

    serving, mem = build_arrays([config], workload.kv_dtype)
    verdict = int(
        memory.fit_verdict(
            mem.usable_bytes, mem.weight_bytes, mem.kv_capacity_tokens, workload.context_tokens
        )[0]
    )
    if verdict == memory.WEIGHTS_TOO_LARGE:
        raise InputError(
            f"{config.label}: the weights ({float(mem.weight_bytes[0]) / BYTES_PER_GB:.1f} GB) exceed the usable "
            f"memory ({float(mem.usable_bytes[0]) / BYTES_PER_GB:.1f} GB); use more GPUs (--gpus) or a smaller format (--quant)"
        )
    if verdict == memory.CONTEXT_TOO_LARGE:
        raise InputError(
            f"{config.label}: one {workload.context_tokens}-token sequence does not fit the KV cache "
            f"({int(mem.kv_capacity_tokens[0])} tokens); lower --context, use --kv-dtype fp8 or more GPUs"
        )
    cap = capacity_within_targets(serving, workload)
    batch = int(cap.batch[0])
    capacity_rps = float(cap.point.requests_per_s[0])
    if batch < 1 or capacity_rps <= 0:
        raise InputError(
            f"{config.label}: no batch meets TPOT <= {workload.max_tpot_ms:g} ms and TTFT <= "
            f"{workload.max_ttft_ms:g} ms at {workload.input_tokens}+{workload.output_tokens} tokens; "
            "loosen the targets or use faster GPUs"
        )
    replicas = int(cost.replicas_needed(rps, capacity_rps, target_utilization, min_replicas))
    release = ENGINE_RELEASES[engine]
    return KitSpec(
        model=config.model.id,
        model_name=config.model.name,
        weights=weights or config.model.hf_repo,
        served_model_name=served_model_name or config.model.id,
        engine=engine,
        engine_version=release.version,
        image=release.image,
        quant=config.quant.id,
        quantization_flag=quant_flags[config.quant.id],
        gpu=config.gpu.id,
        gpus_per_replica=config.n_gpus,
        nodes=nodes,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        data_parallel_size=data_parallel_size,
        data_parallel_attention=config.dp_attention and data_parallel_size > 1,
        expert_parallel=config.dp_attention,
        max_model_len=workload.context_tokens,
        gpu_memory_utilization=config.engine.gpu_memory_utilization,
        max_num_seqs=batch,
        kv_cache_dtype=workload.kv_dtype,
        input_tokens=workload.input_tokens,
        output_tokens=workload.output_tokens,
        max_tpot_ms=workload.max_tpot_ms,
        max_ttft_ms=workload.max_ttft_ms,
        weights_gb=float(mem.weight_bytes[0]) / BYTES_PER_GB,
        kv_capacity_tokens=int(mem.kv_capacity_tokens[0]),
        capacity_rps_per_replica=capacity_rps,
        capacity_limit=LIMIT_WORDS[int(cap.limit[0])],
        tpot_ms_at_capacity=float(cap.point.tpot_s[0]) * 1000.0,
        ttft_ms_at_capacity=float(cap.point.ttft_s[0]) * 1000.0,
        planned_rps=rps,
        target_utilization=target_utilization,
        replicas=replicas,
        gpu_measured=config.gpu_measured,
        engine_confirmed=config.engine.confirmed,
        layout_measured=config.layout_measured,
        layout=config.layout,
    )
