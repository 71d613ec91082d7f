"""Shared set-up of the deploy tests: sized kits of catalog deployments, the real tools they need."""

from __future__ import annotations

import shutil
import socket
from functools import cache

import pytest

from selfhost.catalog.loader import load_catalog
from selfhost.catalog.lookup import resolve
from selfhost.catalog.schema import Catalog
from selfhost.deploy.spec import KitSpec, kit_spec
from selfhost.scenarios import ReplicaConfig, Workload, replica_configs

#: apt-get install -y nginx prometheus docker-compose (what .ci/run installs)
APT_PACKAGE = {
    "nginx": "nginx",
    "promtool": "prometheus",
    "docker-compose": "docker-compose",
    "openssl": "openssl",
}

AWQ_LLAMA = "casperhansen/llama-3.3-70b-instruct-awq"  # a public AWQ int4 g128 checkpoint of Llama 3.3 70B


def require(tool: str) -> str:
    """The path of a command the test needs; a missing one fails (never skips) the test."""
    path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"'{tool}' is not installed: apt-get install -y {APT_PACKAGE.get(tool, tool)} (as .ci/run does)"
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@cache
def catalog() -> Catalog:
    return load_catalog([])


def config(model: str, gpu: str, quant: str, n: int, engine: str = "vllm") -> ReplicaConfig:
    cat = catalog()
    m = resolve(cat.models, model, kind="model", list_command="-")
    g = resolve(cat.gpus, gpu, kind="GPU", list_command="-")
    q = resolve(cat.quantizations, quant, kind="quantization", list_command="-")
    e = resolve(cat.engines, engine, kind="engine", list_command="-")
    found = replica_configs(cat, models=[m], quants=[q], gpus=[g], gpu_counts=[n], engine=e)
    assert found, f"{model} {quant} on {n}x {gpu} ({engine}) is not a runnable config"
    return found[0]


def workload(
    context: int = 32768, tpot_ms: float = 100.0, ttft_ms: float = 3000.0, kv: str = "auto"
) -> Workload:
    return Workload(1000, 300, context, tpot_ms, ttft_ms, kv)  # type: ignore[arg-type]


def llama_awq_2xa100(engine: str = "vllm", **kw: object) -> KitSpec:
    """The article's deployment: Llama 3.3 70B AWQ-int4 on two A100 80GB, max model length 32768."""
    return kit_spec(
        config("llama-3.3-70b", "a100-80gb", "awq-int4", 2, engine),
        workload(),
        rps=5.0,
        target_utilization=0.7,
        weights=AWQ_LLAMA,
        **kw,  # type: ignore[arg-type]
    )


def deepseek_fp8_8xh200(engine: str = "vllm", **kw: object) -> KitSpec:
    return kit_spec(
        config("deepseek-v3", "h200", "fp8", 8, engine),
        workload(),
        rps=5.0,
        target_utilization=0.7,
        **kw,  # type: ignore[arg-type]
    )
