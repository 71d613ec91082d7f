"""`nginx.conf` and `api_keys.map`: TLS termination, bearer-key auth, streaming-safe proxying.

Only ``/v1/*`` is served, to clients holding a key listed in ``api_keys.map`` (an nginx ``map``
include, one ``"Bearer KEY" 1;`` line per key, so keys rotate with a reload, no restart). The
engine's ``/metrics`` and ``/health`` stay on 127.0.0.1 for Prometheus and Docker: the public
server answers 404 for anything outside ``/v1/``. Responses are not buffered (server-sent events
reach the client token by token), the client's key is not forwarded to the engine, and the read
timeout covers the longest completion the sizing allows.

Relative paths (``api_keys.map``, ``tls/...``) resolve against the directory of nginx.conf: the
kit directory when run with ``nginx -c DIR/nginx.conf``, /etc/nginx in the container.

References: nginx docs (ngx_http_map_module ``include`` inside ``map``; ngx_http_proxy_module
proxy_buffering, proxy_http_version, proxy_read_timeout; ngx_http_core_module
client_max_body_size, error_page); OpenAI's error object for the 401 body, which the OpenAI SDK
raises as AuthenticationError.
"""

from __future__ import annotations

import json
import math

from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.escape import one_line

KEYS_FILE = "api_keys.map"
SELF_SIGNED_CERT = "tls/cert.pem"
SELF_SIGNED_KEY = "tls/key.pem"
BYTES_PER_TOKEN_IN_REQUEST = 32  # ~4 characters per token, JSON escaping and UTF-8 up to 8x
MIB = 1024 * 1024
MIN_READ_TIMEOUT_S = 300
READ_TIMEOUT_SAFETY = 1.5
UNAUTHORIZED_BODY = json.dumps(
    {
        "error": {
            "message": "Missing or invalid API key (send Authorization: Bearer <key>).",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    },
    separators=(",", ":"),
)


def client_max_body_mib(spec: KitSpec) -> int:
    """Largest request body accepted: a full-context prompt with JSON overhead, rounded up. [MiB]"""
    return max(1, math.ceil(spec.max_model_len * BYTES_PER_TOKEN_IN_REQUEST / MIB))


def read_timeout_s(spec: KitSpec) -> int:
    """Longest wait for the engine between two reads: a non-streamed completion filling the whole
    context at the TPOT target after the TTFT target, with margin. [s]"""
    longest = (spec.max_ttft_ms + spec.max_model_len * spec.max_tpot_ms) / 1000.0
    return max(MIN_READ_TIMEOUT_S, math.ceil(longest * READ_TIMEOUT_SAFETY))


def keys_map(keys: list[str]) -> str:
    """The ``map`` entries nginx includes: one accepted key per line."""
    lines = [
        "# API keys nginx accepts, one per line. Rotate: add a line, reload nginx",
        "# (docker compose exec nginx nginx -s reload), move clients, delete the old line, reload.",
    ]
    lines += [f'"Bearer {k}" 1;' for k in keys]
    return "\n".join(lines) + "\n"


def nginx_conf(spec: KitSpec, settings: KitSettings) -> str:
    """The whole nginx.conf."""
    cert = str(settings.tls_cert) if settings.tls_cert else SELF_SIGNED_CERT
    key = str(settings.tls_key) if settings.tls_key else SELF_SIGNED_KEY
    names = " ".join((settings.server_name, *settings.extra_names))
    return f"""# nginx in front of {spec.engine} serving {one_line(spec.served_model_name)}: TLS, API keys, streaming.
# Written by `selfhost deploy`; checked with `nginx -t` and a live proxy in selfhost's tests.
worker_processes auto;

events {{
    worker_connections 4096;
}}

http {{
    server_tokens off;
    default_type application/json;
    # per-request latency for the logs (to the container's stdout: docker compose logs nginx);
    # the key (Authorization) is never logged
    log_format selfhost escape=json '{{"time":"$time_iso8601","status":$status,'
        '"request_time":$request_time,"upstream_time":"$upstream_response_time",'
        '"bytes_sent":$bytes_sent,"method":"$request_method","uri":"$uri"}}';
    access_log /dev/stdout selfhost;

    # a key line is ~70 bytes ("Bearer sk-selfhost-" + 43 characters), above the default bucket
    map_hash_bucket_size 128;
    map $http_authorization $selfhost_key_ok {{
        default 0;
        include {KEYS_FILE};
    }}

    upstream engine {{
        server 127.0.0.1:{settings.engine_port};
        keepalive 32;
    }}

    server {{
        listen {settings.https_port} ssl;
        server_name {names};

        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:selfhost_tls:10m;

        # a full {spec.max_model_len}-token prompt with JSON overhead
        client_max_body_size {client_max_body_mib(spec)}m;

        error_page 401 = @unauthorized;

        location /v1/ {{
            if ($selfhost_key_ok = 0) {{
                return 401;
            }}
            proxy_pass http://engine;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header Authorization "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            # stream tokens as they come (server-sent events)
            proxy_buffering off;
            proxy_cache off;
            # a {spec.max_model_len}-token completion at {spec.max_tpot_ms:g} ms/token after {spec.max_ttft_ms:g} ms, x{READ_TIMEOUT_SAFETY:g}
            proxy_read_timeout {read_timeout_s(spec)}s;
            proxy_send_timeout {read_timeout_s(spec)}s;
        }}

        location @unauthorized {{
            add_header WWW-Authenticate 'Bearer realm="selfhost"' always;
            return 401 '{UNAUTHORIZED_BODY}';
        }}

        # /metrics, /health and everything else stay private (Prometheus scrapes 127.0.0.1)
        location / {{
            return 404 '{{"error":{{"message":"not found","type":"invalid_request_error"}}}}';
        }}
    }}
}}
"""
