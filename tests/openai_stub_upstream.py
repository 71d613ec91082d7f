"""A minimal OpenAI-compatible upstream written for the tests: NOT a model server.

It stands where vLLM stands behind the kit's nginx so that the unit under test, the generated
nginx.conf, can be exercised live: ``/v1/models``, ``/v1/chat/completions`` (plain and streamed
as server-sent events), and the engine-only ``/health`` and ``/metrics``. It records the headers
of every request it receives. A streamed reply sends its first chunk, then waits until the test
has received that chunk through nginx (``release_stream``) before it sends the rest: a proxy that
buffered the response would hold the first chunk back, and the wait would time out.

(llama-cpp-python's server on a tiny GGUF model would be a real upstream, but PyPI has no wheel
of it: building 0.3.36 from source took 306 s on this 2-core machine, measured 2026-12-06.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STREAM_WAIT_S = 10.0
REPLY = "hello from the test upstream"


class StubState:
    def __init__(self, model: str) -> None:
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.first_chunk_sent = threading.Event()
        self.release = threading.Event()
        self.stream_finished = threading.Event()
        self.released_in_time: bool | None = None


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send_json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: dict[str, Any] | None = None) -> None:
            state.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})

        def do_GET(self) -> None:
            self._record()
            if self.path == "/health":
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/metrics":
                data = b"vllm:num_requests_waiting 0\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            elif self.path == "/v1/models":
                self._send_json(
                    200,
                    {"object": "list", "data": [{"id": state.model, "object": "model", "owned_by": "stub"}]},
                )
            else:
                self._send_json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._record(body)
            if self.path != "/v1/chat/completions":
                self._send_json(404, {"error": {"message": "not found"}})
                return
            if body.get("stream"):
                self._stream()
                return
            self._send_json(
                200,
                {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": state.model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": REPLY},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
                },
            )

        def _chunk(self, payload: dict[str, Any] | str) -> None:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            data = f"data: {text}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            words = REPLY.split()

            def delta(content: str, finish: str | None = None) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": state.model,
                    "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
                }

            self._chunk(delta(words[0]))
            state.first_chunk_sent.set()
            state.released_in_time = state.release.wait(STREAM_WAIT_S)
            for w in words[1:]:
                self._chunk(delta(" " + w))
            self._chunk(delta("", "stop"))
            self._chunk("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            state.stream_finished.set()

    return Handler


@contextmanager
def stub_upstream(port: int, model: str) -> Iterator[StubState]:
    """Serve the stub on 127.0.0.1:``port`` for the duration of the block."""
    state = StubState(model)
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="openai-stub-upstream", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
