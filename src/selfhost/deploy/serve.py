"""The engine's serve command, derived from the sizing, and the `serve.sh` that runs it on a host.

Every flag comes from the `KitSpec`: parallel sizes from the replica layout, ``--max-model-len``
from the workload's context, the memory share from the engine profile, the concurrency cap from
the batch `throughput.capacity` found within KV memory and the latency targets. The flags are the
ones `engines.FLAGS` lists for the release the kit targets.
"""

from __future__ import annotations

import math
import shlex

from selfhost.deploy.engines import KV_CACHE_DTYPE, LAUNCH
from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.escape import one_line

#: Placeholder for the head node's address in multi-node commands, expanded by the shell (serve.sh)
#: or by Compose from .env (compose.yaml, which refuses to start while it is empty).
HEAD_ADDR = "${HEAD_ADDR}"
COMPOSE_HEAD_ADDR = "${HEAD_ADDR:?set HEAD_ADDR in .env to the head node address}"


def _per_rank(total: int, ranks: int) -> int:
    return max(1, math.ceil(total / ranks))


#: Each engine's flags for what the sizing sets: context length, memory share, concurrency cap.
SIZING_FLAGS: dict[str, tuple[str, str, str]] = {
    "vllm": ("--max-model-len", "--gpu-memory-utilization", "--max-num-seqs"),
    "sglang": ("--context-length", "--mem-fraction-static", "--max-running-requests"),
}


def _sizing_args(spec: KitSpec, engine: str, running: int) -> list[str]:
    """The flags the sizing sets, in ``engine``'s words: the quantization (where the engine needs
    it named), context length, memory share, the cap of ``running`` sequences, KV-cache dtype."""
    context, memory, cap = SIZING_FLAGS[engine]
    args = ["--quantization", spec.quantization_flag] if spec.quantization_flag else []
    args += [context, str(spec.max_model_len), memory, f"{spec.gpu_memory_utilization:g}"]
    args += [cap, str(running), "--kv-cache-dtype", KV_CACHE_DTYPE[engine][spec.kv_cache_dtype]]
    return args


def _vllm_args(spec: KitSpec, settings: KitSettings, node_rank: int, head_addr: str) -> list[str]:
    args = [
        spec.weights,
        "--served-model-name",
        spec.served_model_name,
        "--host",
        "127.0.0.1",  # loopback only: nginx is the public door
        "--port",
        str(settings.engine_port),
        "--tensor-parallel-size",
        str(spec.tensor_parallel_size),
    ]
    if spec.pipeline_parallel_size > 1:
        args += ["--pipeline-parallel-size", str(spec.pipeline_parallel_size)]
    if spec.data_parallel_size > 1:
        args += ["--data-parallel-size", str(spec.data_parallel_size)]
    if spec.expert_parallel:
        args += ["--enable-expert-parallel"]
    # vLLM applies max_num_seqs per data-parallel rank
    args += _sizing_args(spec, "vllm", _per_rank(spec.max_num_seqs, spec.data_parallel_size))
    if spec.nodes > 1:
        args += ["--nnodes", str(spec.nodes), "--node-rank", str(node_rank), "--master-addr", head_addr]
        if node_rank > 0:
            args += ["--headless"]
    return args


def _sglang_args(spec: KitSpec, settings: KitSettings, node_rank: int, head_addr: str) -> list[str]:
    args = [
        "--model-path",
        spec.weights,
        "--served-model-name",
        spec.served_model_name,
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.engine_port),
    ]
    if spec.data_parallel_attention:
        # one tensor-parallel group over all GPUs of a node group, attention split in DP groups
        args += ["--tp-size", str(spec.tensor_parallel_size * spec.data_parallel_size)]
        args += ["--attn-dp-size", str(spec.data_parallel_size)]
        running = spec.max_num_seqs  # divided by attn_dp_size inside SGLang (pool_configurator.py:956)
    else:
        args += ["--tp-size", str(spec.tensor_parallel_size)]
        if spec.data_parallel_size > 1:
            args += ["--dp-size", str(spec.data_parallel_size)]
        running = _per_rank(spec.max_num_seqs, spec.data_parallel_size)  # each replica its own scheduler
    if spec.pipeline_parallel_size > 1:
        args += ["--pp-size", str(spec.pipeline_parallel_size)]
    if spec.expert_parallel:
        args += ["--ep-size", str(spec.tensor_parallel_size * spec.data_parallel_size)]
    args += _sizing_args(spec, "sglang", running)
    args += ["--enable-metrics"]  # /metrics is off by default in SGLang
    if spec.nodes > 1:
        args += [
            "--nnodes",
            str(spec.nodes),
            "--node-rank",
            str(node_rank),
            "--dist-init-addr",
            f"{head_addr}:5000",
        ]
    return args


def serve_args(
    spec: KitSpec, settings: KitSettings, node_rank: int = 0, head_addr: str = HEAD_ADDR
) -> list[str]:
    """The engine's arguments after its launch command (the container's ``command:``).

    ``head_addr``: the head node's address in a multi-node replica (default: a shell variable).
    """
    build = _vllm_args if spec.engine == "vllm" else _sglang_args
    return build(spec, settings, node_rank, head_addr)


def serve_argv(spec: KitSpec, settings: KitSettings, node_rank: int = 0) -> list[str]:
    """The whole command: launch words plus arguments."""
    return [*LAUNCH[spec.engine], *serve_args(spec, settings, node_rank)]


def emitted_flags(argv: list[str]) -> list[str]:
    """The ``--flags`` of a command line, in order."""
    return [a for a in argv if a.startswith("--")]


def serve_line(spec: KitSpec, settings: KitSettings, node_rank: int = 0) -> str:
    """The command as one shell line (``${HEAD_ADDR}`` left for the shell to expand)."""
    return " ".join(
        a if a.startswith(HEAD_ADDR) else shlex.quote(a) for a in serve_argv(spec, settings, node_rank)
    )


def serve_sh(spec: KitSpec, settings: KitSettings) -> str:
    """A POSIX shell script that starts the engine on this host (without Docker)."""
    lines = [
        "#!/bin/sh",
        one_line(
            f"# Start {spec.engine} {spec.engine_version} for {spec.model_name} ({spec.quant}) on "
            f"{spec.gpus_per_replica}x {spec.gpu}, as sized by selfhost."
        ),
        f"# Needs {spec.engine}=={spec.engine_version} installed; compose.yaml runs the same command in a container.",
        "# HF_TOKEN (for gated models) is read from .env beside this script when it is set there.",
        "set -eu",
        'cd "$(dirname "$0")"',
        "if [ -f .env ]; then set -a; . ./.env; set +a; fi",
    ]
    if spec.nodes == 1:
        lines.append("exec " + " \\\n  ".join(_chunks(serve_argv(spec, settings))))
    else:
        lines += [
            f"# One replica spans {spec.nodes} nodes: run this on every node with its rank (0 = head)",
            "# and HEAD_ADDR set to the head node's address, e.g. NODE_RANK=1 HEAD_ADDR=10.0.0.1 ./serve.sh",
            'NODE_RANK="${NODE_RANK:-0}"',
            ': "${HEAD_ADDR:?set HEAD_ADDR to the head node address}"',
            'case "$NODE_RANK" in',
        ]
        for rank in range(spec.nodes):
            cmd = " \\\n      ".join(_chunks(serve_argv(spec, settings, rank)))
            lines.append(f"  {rank}) exec {cmd} ;;")
        lines += [f'  *) echo "NODE_RANK must be 0..{spec.nodes - 1}" >&2; exit 2 ;;', "esac"]
    return "\n".join(lines) + "\n"


def _chunks(argv: list[str]) -> list[str]:
    """Group a command into lines: launch words first, then one flag with its value per line."""
    quoted = [a if a.startswith(HEAD_ADDR) else shlex.quote(a) for a in argv]
    out: list[str] = []
    for word in quoted:
        if word.startswith("--") or not out:
            out.append(word)
        else:
            out[-1] += " " + word
    return out
