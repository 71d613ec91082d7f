"""Pydantic schema of a measurements file: published or your own throughput and latency figures.

A measurements file is a YAML mapping with one key, ``measurements``, holding a list of entries.
Each entry names a deployment by catalog ids (model, GPU, quantization, serving engine, GPU
count), the workload (input and output tokens, concurrency or request rate, KV-cache dtype),
*what* was measured (``scope``) and the measured ``value`` with its ``unit``, plus where it came
from. ``selfhost validate FILE`` predicts every entry and reports the error.

Scopes (what ``value`` counts):

- ``total``: output tokens per second summed over the replica (all its GPUs). [tokens/s]
- ``per_gpu``: ``total`` divided by the GPUs of the replica. [tokens/s]
- ``single_stream``: output tokens per second seen by one sequence (1 / time per output token);
  at concurrency 1 this is the batch-1 decode speed. [tokens/s]
- ``tpot``: time per output token seen by one sequence (inter-token latency). [ms or s]
- ``ttft``: time to first token. [ms or s]
- ``prefill``: prompt tokens processed per second for one prompt of ``input_tokens``. [tokens/s]

Batching: ``continuous`` (in-flight batching, the default) or ``static`` (the prompts of a fixed
batch are prefilled together, then decoded together); it changes TTFT and TPOT, not throughput.

Concurrency: an integer number of sequences in flight (a static batch, or a closed-loop client
count), or ``max`` for offline maximum throughput (every request queued at once; the engine runs
the largest batch that fits its KV memory and batch limit). A serving run driven at a request
rate gives ``request_rate`` instead (and ``requests``, the number sent, if known).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfhost.catalog.schema import EntryId

Scope = Literal["total", "per_gpu", "single_stream", "tpot", "ttft", "prefill"]
Unit = Literal["tokens/s", "ms", "s"]
KvDtype = Literal["auto", "bf16", "fp8"]

#: Scopes whose value is a rate, and those whose value is a time.
RATE_SCOPES: tuple[str, ...] = ("total", "per_gpu", "single_stream", "prefill")
TIME_SCOPES: tuple[str, ...] = ("tpot", "ttft")
#: Seconds per unit of a time scope.
SECONDS_PER_UNIT: dict[str, float] = {"ms": 1e-3, "s": 1.0}


class Source(BaseModel):
    """Where a measurement was published: a document, and the commit it was read at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, description="Document and section the figure was copied from.")
    url: str = Field(default="", description="Permanent link (pinned to a commit where possible).")
    repo: str = ""
    path: str = ""
    commit: str = ""


class Measurement(BaseModel):
    """One measured figure and the deployment and workload it was measured on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: EntryId
    dataset: str = Field(
        default="",
        description="The table or section the figure belongs to; leave-one-source-out holds out one "
        "dataset at a time (default: the source title).",
    )
    # --- deployment (catalog ids; aliases are accepted)
    model: str = Field(min_length=1, description="Catalog model id.")
    gpu: str = Field(min_length=1, description="Catalog GPU id.")
    quant: str = Field(min_length=1, description="Catalog quantization id (weight format).")
    engine: str = Field(min_length=1, description="Serving-engine profile id.")
    n_gpus: Annotated[int, Field(gt=0)] = Field(default=1, description="GPUs in the replica. [count]")
    # --- workload
    input_tokens: Annotated[int, Field(ge=0)] = Field(description="Prompt length. [tokens]")
    output_tokens: Annotated[int, Field(ge=0)] = Field(description="Generated tokens per request. [tokens]")
    concurrency: Annotated[int, Field(gt=0)] | Literal["max"] | None = Field(
        default=None,
        description="Sequences in flight (static batch or client count), or 'max' for offline maximum "
        "throughput. [sequences]",
    )
    request_rate: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="Arrival rate of a rate-driven serving run. [requests/s]"
    )
    requests: Annotated[int, Field(gt=0)] | None = Field(
        default=None, description="Requests sent in the run, where known (bounds the batch). [count]"
    )
    kv_dtype: KvDtype = Field(default="auto", description="KV-cache dtype: auto (16-bit), bf16, fp8.")
    batching: Literal["continuous", "static"] = Field(
        default="continuous",
        description="continuous (in-flight) batching, or a static batch whose prompts are all prefilled "
        "before decoding starts (changes the meaning of TTFT and TPOT, not of throughput).",
    )
    # --- what was measured
    scope: Scope
    value: Annotated[float, Field(gt=0)] = Field(description="The measured figure, in `unit`.")
    unit: Unit
    # --- provenance
    source: Source | Annotated[str, Field(min_length=3)]
    date: str = Field(default="", description="When the figure was measured or published.")
    quote: str = Field(default="", description="The source's row or sentence, verbatim.")
    quote_context: str = ""
    qualifiers: tuple[str, ...] = ()
    extra_metrics: dict[str, float] = Field(
        default_factory=dict, description="Other figures of the same run (not predicted)."
    )
    as_published: dict[str, Any] = Field(
        default_factory=dict,
        description="The source's own description of the run (hardware, engine version, precision...).",
    )
    notes: str = Field(default="", description="How the published run was mapped onto catalog ids.")
    exclude_from_fit: str = Field(
        default="",
        description="Why the engine-profile fit leaves this point out (it is still validated); empty: used.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Measurement:
        if (self.concurrency is None) == (self.request_rate is None):
            raise ValueError(
                "give exactly one of 'concurrency' (an integer or 'max') and 'request_rate' (requests/s)"
            )
        if self.scope in TIME_SCOPES and self.unit == "tokens/s":
            raise ValueError(f"scope '{self.scope}' is a time: use unit 'ms' or 's'")
        if self.scope in RATE_SCOPES and self.unit != "tokens/s":
            raise ValueError(f"scope '{self.scope}' is a rate: use unit 'tokens/s'")
        if self.scope == "prefill" and self.input_tokens < 1:
            raise ValueError("scope 'prefill' needs input_tokens >= 1")
        if self.scope in ("total", "per_gpu", "single_stream", "tpot") and self.output_tokens < 1:
            raise ValueError(f"scope '{self.scope}' needs output_tokens >= 1")
        return self

    @property
    def source_title(self) -> str:
        """The source as one line of text."""
        return self.source.title if isinstance(self.source, Source) else self.source

    @property
    def group(self) -> str:
        """Leave-one-source-out group: the dataset, else the source title."""
        return self.dataset or self.source_title


class MeasurementFile(BaseModel):
    """A whole measurements file: ``{"measurements": [...]}`` with unique ids."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    measurements: tuple[Measurement, ...]

    @model_validator(mode="after")
    def _unique_ids(self) -> MeasurementFile:
        seen: set[str] = set()
        for m in self.measurements:
            if m.id in seen:
                raise ValueError(f"duplicate measurement id '{m.id}'")
            seen.add(m.id)
        return self
