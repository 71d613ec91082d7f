"""`compose.yaml`: the engine with its GPUs, nginx in front, Prometheus and node_exporter beside it.

Every service uses the host's network (Linux GPU hosts): the engine, Prometheus and node_exporter
bind 127.0.0.1 only, so nothing but nginx's HTTPS port is reachable from outside, and nginx
reaches the engine at 127.0.0.1 exactly as in the tests that run the generated nginx.conf.
Docker's port publishing is not used (it bypasses host firewalls such as ufw).

References: the Compose specification (services.deploy.resources.reservations.devices,
network_mode, ipc, healthcheck); vLLM's Docker guide ("use the ipc=host flag or --shm-size":
PyTorch shares tensors between tensor-parallel workers through shared memory).
"""

from __future__ import annotations

from typing import Any

import yaml

from selfhost.deploy.engines import HEALTH_PATH, LAUNCH
from selfhost.deploy.serve import COMPOSE_HEAD_ADDR, serve_args
from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.escape import one_line

NGINX_IMAGE = "nginx:1.27"
PROMETHEUS_IMAGE = "prom/prometheus:v2.42.0"  # the promtool release the rules are tested with (Debian 12)
NODE_EXPORTER_IMAGE = "prom/node-exporter:v1.8.2"
HF_CACHE = "/root/.cache/huggingface"  # where both engine images keep downloaded weights
LOAD_SECONDS_PER_GB = 4.0  # loading (not downloading) weights from local disk, generous
MIN_START_SECONDS = 600


def start_period_s(spec: KitSpec) -> int:
    """How long the health check waits before counting failures: weights load, graphs compile. [s]"""
    return int(max(MIN_START_SECONDS, round(spec.weights_gb / spec.nodes * LOAD_SECONDS_PER_GB, -1)))


def _health_test(port: int) -> list[str]:
    # python3 is in both engine images; curl is not guaranteed
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{port}{HEALTH_PATH}', timeout=5).read()"
    )
    return ["CMD", "python3", "-c", probe]


def compose_document(spec: KitSpec, settings: KitSettings) -> dict[str, Any]:
    """The compose file as data (head node of a multi-node replica)."""
    engine_service = {
        "image": spec.image,
        "entrypoint": list(LAUNCH[spec.engine]),
        "command": serve_args(spec, settings, node_rank=0, head_addr=COMPOSE_HEAD_ADDR),
        "network_mode": "host",
        "ipc": "host",
        "environment": {"HF_TOKEN": "${HF_TOKEN:-}"},
        "volumes": [f"hf-cache:{HF_CACHE}"],
        "deploy": {
            "resources": {
                "reservations": {
                    "devices": [{"driver": "nvidia", "count": spec.gpus_per_node, "capabilities": ["gpu"]}]
                }
            }
        },
        "healthcheck": {
            "test": _health_test(settings.engine_port),
            "interval": "30s",
            "timeout": "10s",
            "retries": 3,
            "start_period": f"{start_period_s(spec)}s",
        },
        "restart": "unless-stopped",
    }
    tls_volumes = (
        [f"{settings.tls_cert}:{settings.tls_cert}:ro", f"{settings.tls_key}:{settings.tls_key}:ro"]
        if settings.tls_cert and settings.tls_key
        else ["./tls:/etc/nginx/tls:ro"]
    )
    return {
        "services": {
            spec.engine: engine_service,
            "nginx": {
                "image": NGINX_IMAGE,
                "network_mode": "host",
                "volumes": [
                    "./nginx.conf:/etc/nginx/nginx.conf:ro",
                    "./api_keys.map:/etc/nginx/api_keys.map:ro",
                    *tls_volumes,
                ],
                "depends_on": [spec.engine],
                "restart": "unless-stopped",
            },
            "prometheus": {
                "image": PROMETHEUS_IMAGE,
                "network_mode": "host",
                "command": [
                    "--config.file=/etc/prometheus/prometheus.yml",
                    "--storage.tsdb.path=/prometheus",
                    "--storage.tsdb.retention.time=30d",
                    f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
                ],
                "volumes": [
                    "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                    "./alerts.yml:/etc/prometheus/alerts.yml:ro",
                    "prometheus-data:/prometheus",
                ],
                "restart": "unless-stopped",
            },
            "node-exporter": {
                "image": NODE_EXPORTER_IMAGE,
                "network_mode": "host",
                "pid": "host",
                "command": [
                    "--path.rootfs=/host",
                    f"--web.listen-address=127.0.0.1:{settings.node_exporter_port}",
                ],
                "volumes": ["/:/host:ro,rslave"],
                "restart": "unless-stopped",
            },
        },
        "volumes": {"hf-cache": {}, "prometheus-data": {}},
    }


def compose_yaml(spec: KitSpec, settings: KitSettings) -> str:
    """compose.yaml text with a header saying what it runs and how to start it."""
    header = [
        one_line(
            f"# {spec.model_name} ({spec.quant}) on {spec.gpus_per_replica}x {spec.gpu} with "
            f"{spec.engine} {spec.engine_version}: one replica, written by `selfhost deploy`."
        ),
        "# Start: docker compose up -d   (needs the NVIDIA Container Toolkit; see README.md)",
        "# Secrets come from .env (HF_TOKEN) and api_keys.map; neither is in this file.",
    ]
    if spec.nodes > 1:
        header.append(
            f"# This replica spans {spec.nodes} nodes: this file runs the head node (rank 0); start the others "
            "with serve.sh (NODE_RANK, HEAD_ADDR)."
        )
    body = yaml.safe_dump(compose_document(spec, settings), sort_keys=False, width=100)
    return "\n".join(header) + "\n" + body
