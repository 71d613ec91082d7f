"""The kit's `README.md` (start, rotate keys, where to look first) and `client.py`.

`client.py` is the plain OpenAI SDK call an application already makes, with two things switched:
``base_url`` points at the kit's nginx and the key comes from ``SELFHOST_API_KEY``.
"""

from __future__ import annotations

import json

from selfhost.deploy.engines import ENGINE_RELEASES, FLAGS
from selfhost.deploy.nginx import KEYS_FILE, SELF_SIGNED_CERT
from selfhost.deploy.prometheus import KV_ALERT_THRESHOLD
from selfhost.deploy.serve import serve_argv, serve_line
from selfhost.deploy.spec import KitSettings, KitSpec
from selfhost.escape import md_cell, md_code, md_fence, md_text, one_line

API_KEY_ENV = "SELFHOST_API_KEY"


def _py_string(text: str) -> str:
    """``text`` as a Python string literal (JSON's double-quoted form is one)."""
    return json.dumps(text)


def _docstring_text(text: str) -> str:
    """``text`` safe inside a triple-quoted docstring: one line, no quote or backslash to end it."""
    return one_line(text).replace("\\", "\\\\").replace('"', '\\"')


def client_py(spec: KitSpec, settings: KitSettings) -> str:
    """The OpenAI SDK, unchanged but for ``base_url`` and the key."""
    return f'''"""Call {_docstring_text(spec.served_model_name)} on your own GPUs with the official OpenAI SDK (pip install openai).

Only two things differ from calling OpenAI: base_url and the key. With the kit's self-signed
certificate, tell Python to trust it: SSL_CERT_FILE={SELF_SIGNED_CERT} python client.py
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url={_py_string(settings.base_url)},
    api_key=os.environ["{API_KEY_ENV}"],
)

response = client.chat.completions.create(
    model={_py_string(spec.served_model_name)},
    messages=[{{"role": "user", "content": "Say hello in five words."}}],
)
print(response.choices[0].message.content)
'''


def readme_md(spec: KitSpec, settings: KitSettings, self_signed: bool) -> str:
    """The kit's README.md."""
    release = ENGINE_RELEASES[spec.engine]
    used = [a for a in serve_argv(spec, settings) if a.startswith("--")]
    flag_rows = "\n".join(
        f"| {md_code(f, in_table=True)} | {md_cell(FLAGS[spec.engine][f].where)} | {md_cell(FLAGS[spec.engine][f].note)} |"
        for f in dict.fromkeys(used)
    )
    tls = (
        f"The certificate in `tls/` is self-signed: clients must trust `{SELF_SIGNED_CERT}` "
        f"(`SSL_CERT_FILE={SELF_SIGNED_CERT}`). Put a real one in its place for anything public, "
        "or rerun with `--tls-cert/--tls-key`."
        if self_signed
        else f"TLS uses your certificate {md_code(settings.tls_cert)} and key {md_code(settings.tls_key)}."
    )
    evidence = (
        "published measurements on this GPU are behind the engine profile"
        if spec.gpu_measured
        else "extrapolated: no published measurement on this GPU is behind the engine profile"
    )
    if not spec.layout_measured:
        evidence += f"; no published measurement in a {spec.layout} layout is behind it (extrapolated)"
    if not spec.engine_confirmed:
        evidence += f"; the {spec.engine} profile is pooled from other engines' measurements"
    multi_node = (
        f"\nThis replica spans {spec.nodes} nodes ({spec.gpus_per_node} GPUs each, pipeline parallel across "
        "them). `compose.yaml` runs the head node; on every other node run "
        "`NODE_RANK=<rank> HEAD_ADDR=<head address> ./serve.sh` with the engine installed.\n"
        if spec.nodes > 1
        else ""
    )
    return f"""# {md_text(f"{spec.model_name} on {spec.gpus_per_replica}x {spec.gpu} ({spec.engine} {release.version})")}

Written by `selfhost deploy` from the sizing that priced this deployment. One replica: the plan
needs **{spec.replicas}** for {spec.planned_rps:g} req/s at {spec.target_utilization:.0%} target utilization.

| | |
|---|---|
| model | {md_code(spec.weights, in_table=True)} served as {md_code(spec.served_model_name, in_table=True)} ({md_cell(spec.quant)}) |
| layout | tensor parallel {spec.tensor_parallel_size}, pipeline parallel {spec.pipeline_parallel_size}, data parallel {spec.data_parallel_size}{", expert parallel" if spec.expert_parallel else ""} |
| context | {spec.max_model_len:,} tokens; KV cache {spec.kv_capacity_tokens:,} tokens per replica |
| concurrency cap | {spec.max_num_seqs} sequences (largest batch within KV memory and the latency targets: {spec.capacity_limit}) |
| capacity (estimate) | {spec.capacity_rps_per_replica:.3g} req/s per replica at {spec.input_tokens}+{spec.output_tokens} tokens, TPOT {spec.tpot_ms_at_capacity:.0f} ms, TTFT {spec.ttft_ms_at_capacity:.0f} ms |
| planned per replica | {spec.planned_rps_per_replica:.3g} req/s (alert `RequestRateAbovePlannedCapacity` above it) |

The throughput figures are roofline estimates (selfhost docs/method.md; {evidence}): measure
before you commit, and rerun `selfhost deploy` with your own numbers.

## Start

Needs Docker with the NVIDIA Container Toolkit and {spec.gpus_per_node} GPUs on this host.

1. Put your Hugging Face token in `.env` (`HF_TOKEN=...`) if the model is gated.
2. `docker compose up -d` (or `docker-compose up -d`). The engine loads for several minutes;
   `docker compose ps` shows it healthy when `/health` answers.
3. `SSL_CERT_FILE={SELF_SIGNED_CERT} {API_KEY_ENV}=$(grep {API_KEY_ENV} .env | cut -d= -f2) python client.py`
{multi_node}
Without Docker, `./serve.sh` runs the same engine command on the host:

{md_fence(serve_line(spec, settings))}

Only nginx faces the network: HTTPS on port {settings.https_port}, `/v1/*` only, with an API key.
The engine ({settings.engine_port}), Prometheus ({settings.prometheus_port}) and node_exporter
({settings.node_exporter_port}) listen on 127.0.0.1. {tls}

## API keys

`.env` holds the client key (`{API_KEY_ENV}`) and `HF_TOKEN`; `{KEYS_FILE}` lists the keys nginx
accepts. Both are mode 0600 and never rewritten by `selfhost deploy` (unless `--new-secrets`);
keep them out of version control. To rotate without downtime:

1. `python -c "import secrets; print('sk-selfhost-' + secrets.token_urlsafe(32))"`
2. Add `"Bearer <new key>" 1;` to `{KEYS_FILE}`, then `docker compose exec nginx nginx -s reload`.
3. Move clients to the new key, delete the old line, reload again.

## Where to look first

- `http://127.0.0.1:{settings.prometheus_port}/alerts` (on this host, e.g. through `ssh -L`): the rules
  in `alerts.yml`. `KVCacheNearlyFull` (KV use >= {KV_ALERT_THRESHOLD:.0%} for 5 minutes) is the most
  common failure; `RequestQueueGrowing` and `RequestRateAbovePlannedCapacity` say add a replica;
  the two p95 alerts compare TTFT and time per output token with {spec.max_ttft_ms:g} ms and
  {spec.max_tpot_ms:g} ms.
- {md_code(f"docker compose logs -f {spec.engine}")}: load progress, KV cache size, preemptions.
- `docker compose logs nginx`: one JSON line per request with `request_time` and `upstream_time`.

## {md_text(f"Flags, and where each is defined in {spec.engine} {release.version}")}

| flag | defined in | note |
|---|---|---|
{flag_rows}

Read in {md_text(release.source)}.
"""
