"""The nginx log_format documented in docs/traffic-profile.md, run in a real nginx: its log is
what `selfhost workload` reads. Skipped where nginx is not installed."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from selfhost.traffic import read_usage

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "traffic-profile.md").read_text(encoding="utf-8")
NGINX = shutil.which("nginx")


def documented_log_format() -> str:
    block = re.search(r"```nginx\n(.*?)```", DOC, re.S)
    assert block, "docs/traffic-profile.md has no nginx block"
    lines = [line for line in block[1].splitlines() if not line.startswith("access_log")]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_the_documented_format_is_valid_nginx_and_its_log_is_read(tmp_path: Path):
    upstream, proxy = free_port(), free_port()
    log = tmp_path / "usage.jsonl"
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"""
error_log {tmp_path}/error.log;
pid {tmp_path}/nginx.pid;
events {{}}
http {{
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    {documented_log_format()}
    server {{  # stands in for the engine plus a middleware that reports token counts
        listen 127.0.0.1:{upstream};
        access_log off;
        location / {{
            add_header X-Prompt-Tokens 812;
            add_header X-Completion-Tokens 240;
            add_header X-Cached-Tokens 300;
            return 200 '{{"ok": true}}';
        }}
        location /nothing {{ return 200 'no headers'; }}
    }}
    server {{
        listen 127.0.0.1:{proxy};
        access_log {log} selfhost_usage;
        location / {{ proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
""",
        encoding="utf-8",
    )
    check = subprocess.run(
        [NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    server = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"], stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", proxy), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(f"nginx did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.05)
        for _ in range(4):
            urllib.request.urlopen(f"http://127.0.0.1:{proxy}/v1/chat/completions", timeout=5).read()
        urllib.request.urlopen(f"http://127.0.0.1:{proxy}/nothing", timeout=5).read()
    finally:
        server.terminate()
        server.wait(timeout=10)
    usage = read_usage(log)
    assert usage.format == "jsonl-access-log"
    events = usage.data
    assert events.time_s.size == 5
    assert events.input_tokens[:4].tolist() == [812.0] * 4
    assert events.output_tokens[:4].tolist() == [240.0] * 4
    assert events.cached_tokens[:4].tolist() == [300.0] * 4
    assert str(events.input_tokens[4]) == "nan"  # no headers: unknown, not 0
    assert abs(events.time_s[0] - time.time()) < 120
