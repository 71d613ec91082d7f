"""compose.yaml, validated by Debian's docker-compose (`docker-compose config`: its Compose
schema, no Docker daemon needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy_cases import config, deepseek_fp8_8xh200, llama_awq_2xa100, require, workload
from selfhost.deploy.kit import write_kit
from selfhost.deploy.serve import serve_args
from selfhost.deploy.spec import KitSettings, KitSpec, kit_spec

HEAD = "10.0.0.1"


def compose_config(kit: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            require("docker-compose"),
            "--project-directory",
            str(kit),
            "-f",
            str(kit / "compose.yaml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(kit), "HEAD_ADDR": HEAD},
    )
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


@pytest.mark.parametrize(
    "sized",
    [
        llama_awq_2xa100,
        deepseek_fp8_8xh200,
        lambda: llama_awq_2xa100("sglang"),
        lambda: kit_spec(config("deepseek-v3", "h100", "fp8", 16), workload(), rps=1, target_utilization=0.7),
    ],
    ids=[
        "llama-awq-2xa100",
        "deepseek-fp8-8xh200",
        "llama-awq-2xa100-sglang",
        "deepseek-fp8-16xh100-two-nodes",
    ],
)
def test_docker_compose_validates_the_kit(tmp_path: Path, sized: Any) -> None:
    spec: KitSpec = sized()
    kit = write_kit(tmp_path / "kit", spec, KitSettings(), self_signed=True).directory
    doc = compose_config(kit)
    engine = doc["services"][spec.engine]
    assert engine["command"] == serve_args(spec, KitSettings(), head_addr=HEAD)
    devices = engine["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": spec.gpus_per_node, "capabilities": ["gpu"]}]
    assert engine["ipc"] == "host"
    assert "/health" in " ".join(engine["healthcheck"]["test"])
    assert any(
        v.endswith("/root/.cache/huggingface:rw") or "/root/.cache/huggingface" in v
        for v in map(str, engine["volumes"])
    )
    assert set(doc["services"]) == {spec.engine, "nginx", "prometheus", "node-exporter"}
    # only nginx faces the network: nothing is published, every other service binds 127.0.0.1
    assert all("ports" not in s for s in doc["services"].values())
    assert "--web.listen-address=127.0.0.1:9090" in doc["services"]["prometheus"]["command"]


def test_hf_token_comes_from_env_and_no_api_key_is_in_compose(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", llama_awq_2xa100(), KitSettings(), self_signed=True).directory
    env = (kit / ".env").read_text()
    (kit / ".env").write_text(env.replace("HF_TOKEN=", "HF_TOKEN=hf_test_token"))
    doc = compose_config(kit)
    assert doc["services"]["vllm"]["environment"]["HF_TOKEN"] == "hf_test_token"
    key = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("SELFHOST_API_KEY="))
    assert key not in (kit / "compose.yaml").read_text()


def test_a_multi_node_kit_will_not_start_without_the_head_address(tmp_path: Path) -> None:
    spec = kit_spec(config("deepseek-v3", "h100", "fp8", 16), workload(), rps=1, target_utilization=0.7)
    kit = write_kit(tmp_path / "kit", spec, KitSettings(), self_signed=True).directory
    assert "HEAD_ADDR=\n" in (kit / ".env").read_text()
    done = subprocess.run(
        [require("docker-compose"), "--project-directory", str(kit), "-f", str(kit / "compose.yaml"), "config"],
        capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(kit)},
    )  # fmt: skip
    assert done.returncode != 0
    assert "set HEAD_ADDR in .env" in done.stderr


def test_docker_compose_rejects_a_broken_file(tmp_path: Path) -> None:
    """The check is real: a GPU reservation without a driver/count shape fails validation."""
    kit = write_kit(tmp_path / "kit", llama_awq_2xa100(), KitSettings(), self_signed=True).directory
    doc = yaml.safe_load((kit / "compose.yaml").read_text())
    doc["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"] = "all"
    (kit / "compose.yaml").write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [require("docker-compose"), "-f", str(kit / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
