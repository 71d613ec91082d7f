"""The generated nginx.conf, run by Debian's nginx: `nginx -t`, then live on loopback ports in
front of a minimal OpenAI-compatible upstream (tests/openai_stub_upstream.py, written for the
test): keys, TLS, streaming, private endpoints, body limit, and the official openai client."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy_cases import free_port, llama_awq_2xa100, require
from openai_stub_upstream import REPLY, StubState, stub_upstream
from selfhost.deploy.kit import write_kit
from selfhost.deploy.nginx import client_max_body_mib
from selfhost.deploy.spec import KitSettings
from selfhost.deploy.tls import _with_openssl, self_signed_pem

START_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 15.0


def nginx_cmd(kit: Path, run: Path, *extra: str) -> list[str]:
    """nginx on the kit's own nginx.conf; pid and logs in a scratch directory."""
    return [
        require("nginx"),
        "-e", str(run / "error.log"),
        "-p", str(run),
        "-c", str(kit / "nginx.conf"),
        "-g", f"pid {run / 'nginx.pid'}; error_log {run / 'error.log'};",
        *extra,
    ]  # fmt: skip


def nginx_t(kit: Path, run: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(nginx_cmd(kit, run, "-t"), capture_output=True, text=True, timeout=30)


def read_env(kit: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in (kit / ".env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {k: v for k, v in pairs}


@pytest.mark.parametrize("maker", ["cryptography", "openssl"])
def test_nginx_t_accepts_the_kit_with_a_self_signed_certificate(tmp_path: Path, maker: str) -> None:
    if maker == "openssl":
        require("openssl")
    make = self_signed_pem if maker == "cryptography" else (lambda name, extra: _with_openssl([name]))
    kit, run = tmp_path / "kit", tmp_path / "run"
    run.mkdir()
    write_kit(
        kit, llama_awq_2xa100(), KitSettings(https_port=free_port()), self_signed=True, make_certificate=make
    )
    done = nginx_t(kit, run)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_nginx_t_accepts_the_users_certificate_in_place(tmp_path: Path) -> None:
    cert, key = self_signed_pem("llm.corp.example")
    (tmp_path / "llm.pem").write_bytes(cert)
    (tmp_path / "llm.key").write_bytes(key)
    settings = KitSettings(
        server_name="llm.corp.example",
        https_port=free_port(),
        tls_cert=tmp_path / "llm.pem",
        tls_key=tmp_path / "llm.key",
    )
    kit, run = tmp_path / "kit", tmp_path / "run"
    run.mkdir()
    write_kit(kit, llama_awq_2xa100(), settings, self_signed=False)
    assert not (kit / "tls").exists()
    assert f"ssl_certificate {tmp_path / 'llm.pem'};" in (kit / "nginx.conf").read_text()
    done = nginx_t(kit, run)
    assert done.returncode == 0, done.stderr


def test_nginx_t_rejects_a_broken_config(tmp_path: Path) -> None:
    """`nginx -t` is a real check: a kit whose keys file is missing fails it."""
    kit, run = tmp_path / "kit", tmp_path / "run"
    run.mkdir()
    write_kit(kit, llama_awq_2xa100(), KitSettings(https_port=free_port()), self_signed=True)
    (kit / "api_keys.map").unlink()
    assert nginx_t(kit, run).returncode != 0


# --------------------------------------------------------------------------- live proxy


@dataclass
class LiveKit:
    kit: Path
    port: int
    key: str
    upstream: StubState
    served_name: str
    engine_port: int

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.kit / "tls" / "cert.pem"))

    def request(
        self, method: str, path: str, key: str | None = None, body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPSConnection(
            "localhost", self.port, context=self.context(), timeout=REQUEST_TIMEOUT_S
        )
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()


def _wait_for_tls(port: int, proc: subprocess.Popen[bytes], run: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"nginx exited: {(run / 'error.log').read_text() if (run / 'error.log').exists() else ''}"
            )
        try:
            import socket

            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("nginx did not start listening in time")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKit]:
    base = tmp_path_factory.mktemp("live-nginx")
    kit, run = base / "kit", base / "run"
    run.mkdir()
    spec = llama_awq_2xa100()
    settings = KitSettings(https_port=free_port(), engine_port=free_port())
    write_kit(kit, spec, settings, self_signed=True)
    key = read_env(kit)["SELFHOST_API_KEY"]
    with stub_upstream(settings.engine_port, spec.served_model_name) as upstream:
        proc = subprocess.Popen(
            nginx_cmd(kit, run, "-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            _wait_for_tls(settings.https_port, proc, run)
            yield LiveKit(
                kit, settings.https_port, key, upstream, spec.served_model_name, settings.engine_port
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_requests_without_a_key_or_with_a_wrong_one_get_401(live: LiveKit) -> None:
    before = len(live.upstream.requests)
    for key in (None, "sk-selfhost-wrong", live.key + "x"):
        status, headers, body = live.request("GET", "/v1/models", key)
        assert status == 401, key
        assert headers["www-authenticate"].startswith("Bearer")
        assert json.loads(body)["error"]["code"] == "invalid_api_key"
    assert len(live.upstream.requests) == before  # nothing reached the engine


def test_the_right_key_is_proxied_and_not_forwarded(live: LiveKit) -> None:
    status, _, body = live.request("GET", "/v1/models", live.key)
    assert status == 200
    assert json.loads(body)["data"][0]["id"] == live.served_name
    seen = live.upstream.requests[-1]
    assert seen["path"] == "/v1/models"
    assert "Authorization" not in seen["headers"]  # the client's key stays at the gateway
    assert seen["headers"]["X-Forwarded-Proto"] == "https"


def test_tls_handshake_verifies_with_the_generated_certificate(live: LiveKit) -> None:
    import socket

    with (
        socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw,
        live.context().wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        der = tls.getpeercert(binary_form=True)
    pem = (live.kit / "tls" / "cert.pem").read_text()
    assert ssl.DER_cert_to_PEM_cert(der).strip() == pem.strip()
    # without the kit's certificate as trust anchor the handshake fails: it is not some other cert
    with (
        socket.create_connection(("127.0.0.1", live.port), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")


def test_a_streamed_response_passes_unbuffered(live: LiveKit) -> None:
    """The first event arrives while the upstream still holds the rest of the stream."""
    up = live.upstream
    up.first_chunk_sent.clear()
    up.release.clear()
    up.stream_finished.clear()
    conn = http.client.HTTPSConnection(
        "localhost", live.port, context=live.context(), timeout=REQUEST_TIMEOUT_S
    )
    body = json.dumps(
        {"model": live.served_name, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    conn.request("POST", "/v1/chat/completions", body=body, headers={"Authorization": f"Bearer {live.key}"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type", "").startswith("text/event-stream")
    first = r.readline()
    assert first.startswith(b"data: ")
    assert not up.stream_finished.is_set()  # the upstream has not sent the rest yet
    up.release.set()
    rest = r.read().decode()
    conn.close()
    assert up.released_in_time is True
    assert "data: [DONE]" in rest


def test_metrics_and_health_are_not_reachable_through_nginx(live: LiveKit) -> None:
    for path in ("/metrics", "/health", "/", "/v2/anything"):
        status, _, body = live.request("GET", path, live.key)
        assert status == 404, path
        assert b"vllm:" not in body
    # they exist on the engine itself, on 127.0.0.1 only
    conn = http.client.HTTPConnection("127.0.0.1", live.engine_port, timeout=5)
    conn.request("GET", "/metrics")
    assert conn.getresponse().status == 200
    conn.close()


def test_a_body_above_the_limit_is_refused(live: LiveKit) -> None:
    size = (client_max_body_mib(llama_awq_2xa100()) + 1) * 1024 * 1024
    status, _, _ = live.request("POST", "/v1/chat/completions", live.key, body=b"x" * size)
    assert status == 413


def test_the_kits_client_py_talks_to_it_by_base_url_alone(live: LiveKit) -> None:
    """client.py, as written into the kit: the official OpenAI SDK with base_url and key switched."""
    env = {
        **os.environ,
        "SELFHOST_API_KEY": live.key,
        "SSL_CERT_FILE": str(live.kit / "tls" / "cert.pem"),
    }
    script = (live.kit / "client.py").read_text()
    assert f'base_url="https://localhost:{live.port}/v1"' in script
    done = subprocess.run(
        [sys.executable, str(live.kit / "client.py")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == REPLY


def test_the_openai_client_streams_and_is_refused_with_a_wrong_key(
    live: LiveKit, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openai

    monkeypatch.setenv("SSL_CERT_FILE", str(live.kit / "tls" / "cert.pem"))
    base = f"https://localhost:{live.port}/v1"
    live.upstream.release.set()  # no gate for this stream
    client = openai.OpenAI(base_url=base, api_key=live.key, max_retries=0, timeout=REQUEST_TIMEOUT_S)
    stream = client.chat.completions.create(
        model=live.served_name, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == REPLY
    wrong = openai.OpenAI(
        base_url=base, api_key="sk-selfhost-wrong", max_retries=0, timeout=REQUEST_TIMEOUT_S
    )
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
