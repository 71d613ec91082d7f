"""Turn benchmark runs into measurement entries (selfhost.calibration.schema.Measurement).

Each run becomes one throughput entry (scope ``total``, output tokens/s over the deployment,
the run's mean lengths, its concurrency or request rate, ``requests`` = completed requests,
``lengths: variable`` unless the file shows fixed lengths) and one entry per TTFT / TPOT
statistic the file gives (mean, median, p99). The model predicts means, so median and p99
entries carry ``exclude_from_fit`` (``selfhost validate`` still shows them).

Ids are ``<prefix><file stem>[-r<run>]-<what>``: the same file imported twice gives the same
ids, which is how `append_measurements` recognises entries it already holds.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic

from selfhost.calibration.schema import Measurement
from selfhost.errors import InputError
from selfhost.importers.common import BenchRun
from selfhost.importers.detect import ImportedFile

if TYPE_CHECKING:
    from selfhost.catalog.schema import Catalog

#: Field order of a written entry: as in data/calibration/measurements.yaml, provenance last.
FIELD_ORDER = (
    "id",
    "dataset",
    "model",
    "gpu",
    "quant",
    "engine",
    "engine_version",
    "n_gpus",
    "replicas",
    "max_num_seqs",
    "input_tokens",
    "output_tokens",
    "concurrency",
    "request_rate",
    "requests",
    "lengths",
    "kv_dtype",
    "scope",
    "tokens",
    "statistic",
    "value",
    "unit",
    "source",
    "date",
    "qualifiers",
    "extra_metrics",
    "as_published",
    "notes",
    "exclude_from_fit",
)
ID_MAX_CHARS = 80  # selfhost.catalog.schema.EntryId
LONGEST_SUFFIX = "-r9999-ttft-median"


@dataclass(frozen=True)
class Deployment:
    """What the run was measured on, as catalog ids (the file does not say; the user does)."""

    model: str
    gpu: str
    quant: str
    engine: str
    n_gpus: int = 1
    replicas: int = 1
    max_num_seqs: int | None = None
    kv_dtype: str = "auto"
    engine_version: str = ""


def resolve_deployment(
    catalog: Catalog,
    *,
    model: str,
    gpu: str,
    quant: str | None,
    engine: str,
    n_gpus: int = 1,
    replicas: int = 1,
    max_num_seqs: int | None = None,
    kv_dtype: str = "auto",
    engine_version: str = "",
) -> tuple[Deployment, list[str]]:
    """Catalog ids for the deployment the user names, and notes on the defaults chosen.

    ``quant`` None: the model's native dtype (bf16 or fp8). ``engine`` 'auto': the default
    engine for that quantization on that GPU (`selfhost.scenarios.default_engine`).
    ``engine_version`` (e.g. '0.6.3', '' unknown) picks the engine generation the run is
    predicted with (an older vLLM's scheduler overheads).

    Raises:
        UnknownIdError: an id is not in the catalog (with close matches).
        InputError: the combination cannot run (e.g. the engine does not load the quantization).
    """
    from selfhost.catalog.lookup import resolve
    from selfhost.scenarios import KV_BYTES_PER_ELEMENT, compatibility_problem, default_engine

    notes: list[str] = []
    m = resolve(catalog.models, model, kind="model", list_command="selfhost catalog list models")
    g = resolve(catalog.gpus, gpu, kind="GPU", list_command="selfhost catalog list gpus")
    if quant is None:
        quant = m.native_dtype
        notes.append(f"no --quant given: {quant}, the native dtype of {m.id}")
    q = resolve(
        catalog.quantizations, quant, kind="quantization", list_command="selfhost catalog list quants"
    )
    if engine == "auto":
        e = default_engine(catalog, q, g)
        if e is None:
            raise InputError(f"no engine in the catalog runs {q.id} on {g.id}; pass --engine")
        notes.append(f"no --engine given: {e.id}, the default for {q.id} on {g.id}")
    else:
        e = resolve(catalog.engines, engine, kind="engine", list_command="selfhost catalog list engines")
    problem = compatibility_problem(m, q, g, n_gpus, e)
    if problem:
        raise InputError(f"this deployment cannot run: {problem}")
    if kv_dtype not in KV_BYTES_PER_ELEMENT:
        raise InputError(f"unknown --kv-dtype '{kv_dtype}'; use one of: {', '.join(KV_BYTES_PER_ELEMENT)}")
    if n_gpus < 1 or replicas < 1:
        raise InputError("--gpus and --replicas must be at least 1")
    if engine_version and re.fullmatch(r"\d+(\.\d+)*", engine_version) is None:
        raise InputError(
            f"--engine-version '{engine_version}' must be a release number such as 0.6.3 (digits and dots)"
        )
    return (
        Deployment(
            model=m.id,
            gpu=g.id,
            quant=q.id,
            engine=e.id,
            n_gpus=n_gpus,
            replicas=replicas,
            max_num_seqs=max_num_seqs,
            kv_dtype=kv_dtype,
            engine_version=engine_version,
        ),
        notes,
    )


def slug(text: str) -> str:
    """``text`` as an id fragment: lower case, runs of other characters as one '-'."""
    s = re.sub(r"[^a-z0-9._]+", "-", text.lower()).strip("-._")
    return re.sub(r"-{2,}", "-", s) or "run"


def id_stem(file_name: str, prefix: str) -> str:
    """The id part naming the file: its slug, shortened with a hash suffix if too long."""
    stem = slug(file_name.rsplit(".", 1)[0] if "." in file_name else file_name)
    room = ID_MAX_CHARS - len(prefix) - len(LONGEST_SUFFIX)
    if len(stem) > room:
        digest = hashlib.sha1(stem.encode()).hexdigest()[:6]
        stem = stem[: room - 7].rstrip("-._") + "-" + digest
    return prefix + stem


def _ordered(record: dict[str, Any]) -> dict[str, Any]:
    return {k: record[k] for k in FIELD_ORDER if k in record and record[k] is not None}


def measurement_records(
    imported: ImportedFile,
    deployment: Deployment,
    *,
    id_prefix: str = "",
    source_path: str | None = None,
    sha256: str = "",
) -> list[dict[str, Any]]:
    """The entries for every run of ``imported``, as plain YAML-ready dicts, each validated.

    ``source_path`` is how the file is named in ``source`` (default: the path as read).

    Raises:
        InputError: an entry would not be a valid measurement (e.g. a mean output length below 1).
    """
    if id_prefix and not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", id_prefix):
        raise InputError(f"--id-prefix '{id_prefix}' must be lower-case letters, digits, '.', '_' or '-'")
    records: list[dict[str, Any]] = []
    stem = id_stem(imported.path.name, id_prefix)
    for run in imported.runs:
        records.extend(
            _run_records(run, imported, deployment, stem, source_path or str(imported.path), sha256)
        )
    for record in records:
        try:
            Measurement.model_validate(record)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            raise InputError(
                f"'{imported.path}': entry {record['id']} would be invalid ({where}: {first['msg']})"
            ) from None
    return records


def _run_records(
    run: BenchRun, imported: ImportedFile, d: Deployment, stem: str, source_path: str, sha256: str
) -> list[dict[str, Any]]:
    base_id = stem + (f"-r{run.run_index + 1}" if run.n_runs > 1 else "")
    output_tokens = round(run.output_tokens_mean)
    if output_tokens < 1:
        raise InputError(
            f"'{imported.path}'{_run_words(run)}: mean output length {run.output_tokens_mean:.2f} tokens; "
            "a throughput entry needs at least 1"
        )
    title = f"{run.layout} result file {imported.path.name}" + _run_words(run)
    load: dict[str, Any] = (
        {"concurrency": run.concurrency}
        if run.concurrency is not None
        else {"request_rate": run.request_rate}
    )
    common: dict[str, Any] = {
        "dataset": imported.path.name,
        "model": d.model,
        "gpu": d.gpu,
        "quant": d.quant,
        "engine": d.engine,
        "engine_version": d.engine_version or None,
        "n_gpus": d.n_gpus,
        "replicas": d.replicas if d.replicas != 1 else None,
        "max_num_seqs": d.max_num_seqs if d.max_num_seqs is not None else run.max_num_seqs,
        "input_tokens": round(run.input_tokens_mean),
        "output_tokens": output_tokens,
        **load,
        "requests": run.completed,
        "lengths": "fixed" if run.lengths_fixed else "variable",
        "kv_dtype": d.kv_dtype if d.kv_dtype != "auto" else None,
    }
    provenance: dict[str, Any] = {
        "source": {"title": title, "path": source_path},
        "date": run.date or None,
    }
    described = {
        "tool": run.layout,
        "file": imported.path.name,
        **({"sha256": sha256} if sha256 else {}),
        **({"run": f"{run.run_index + 1} of {run.n_runs}"} if run.n_runs > 1 else {}),
        "mean_input_tokens": round(run.input_tokens_mean, 3),
        "mean_output_tokens": round(run.output_tokens_mean, 3),
        **run.described,
    }
    mapping = (
        f"imported with selfhost measurements import; deployment (model, GPU, quantization, engine, "
        f"GPUs per replica{', replicas' if d.replicas != 1 else ''}) as given on the command line, "
        f"not read from the file (it names the model '{run.model_name or 'unknown'}'). Token counts "
        "are the means of the completed requests."
    )
    throughput = {
        "id": f"{base_id}-throughput",
        **common,
        "scope": "total",
        "tokens": "output",
        "value": run.output_tokens_per_s,
        "unit": "tokens/s",
        **provenance,
        "qualifiers": list(run.notes) or None,
        "extra_metrics": dict(run.extra_metrics) or None,
        "as_published": described,
        "notes": mapping,
    }
    records = [_ordered(throughput)]
    for stat in run.latencies:
        entry = {
            "id": f"{base_id}-{stat.metric}-{stat.statistic}",
            **common,
            "scope": stat.metric,
            "statistic": stat.statistic,
            "value": stat.value_ms,
            "unit": "ms",
            **provenance,
            "notes": f"from {stat.field}; same run as {base_id}-throughput",
            "exclude_from_fit": (
                f"a {stat.statistic} of the run; the model predicts means"
                if stat.statistic != "mean"
                else None
            ),
        }
        records.append(_ordered(entry))
    return records


def _run_words(run: BenchRun) -> str:
    if run.n_runs == 1:
        return ""
    return f", run {run.run_index + 1} of {run.n_runs}" + (f" ({run.label})" if run.label else "")


def summary_line(imported: ImportedFile, records: Sequence[dict[str, Any]]) -> str:
    return f"{imported.path}: {imported.description} -> {len(records)} measurement entries"
