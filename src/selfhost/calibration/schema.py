"""Pydantic schema of a measurements file: published or your own throughput and latency figures.

A measurements file is a YAML mapping with one key, ``measurements``, holding a list of entries.
Each entry names a deployment by catalog ids (model, GPU, quantization, serving engine, GPU
count), the workload (input and output tokens, concurrency or request rate, KV-cache dtype),
*what* was measured (``scope``) and the measured ``value`` with its ``unit``, plus where it came
from. ``selfhost validate FILE`` predicts every entry and reports the error.

Scopes (what ``value`` counts):

- ``total``: tokens per second summed over the deployment (all GPUs of all ``replicas``);
  ``tokens`` says which: ``output`` (the default) or ``input+output``. [tokens/s]
- ``per_gpu``: ``total`` divided by every GPU of the deployment. [tokens/s]
- ``single_stream``: output tokens per second seen by one sequence (1 / time per output token);
  at concurrency 1 this is the batch-1 decode speed. [tokens/s]
- ``requests``: completed requests per second over the deployment. [requests/s]
- ``tpot``: time per output token seen by one sequence (inter-token latency). [ms or s]
- ``ttft``: time to first token. [ms or s]
- ``batch_latency``: end-to-end time of one batch of ``concurrency`` requests sent at once
  (prefill, then every decode step; vLLM's ``benchmark_latency``). [ms or s]
- ``prefill``: prompt tokens processed per second for one prompt of ``input_tokens``. [tokens/s]

Times are means unless ``statistic`` says otherwise (the model predicts means).

Batching: ``continuous`` (in-flight batching, the default) or ``static`` (the prompts of a fixed
batch are prefilled together, then decoded together); it changes TTFT and TPOT, not throughput.

Concurrency: an integer number of sequences in flight (a static batch, or a closed-loop client
count), or ``max`` for offline maximum throughput (every request queued at once; the engine runs
the largest batch that fits its KV memory and batch limit). A serving run driven at a request
rate gives ``request_rate`` instead (and ``requests``, the number sent, if known).

Lengths: ``input_tokens`` and ``output_tokens`` are the mean lengths; ``lengths`` says how the
output lengths were drawn: ``fixed``, ``variable`` (long-tailed, as ShareGPT's: modelled as
exponential with the stated mean) or ``uniform`` (from 1 to twice the mean). It matters for finite
runs: a burst of requests with varied lengths ends with a tail in which few sequences still run.

Serving layout: ``n_gpus`` GPUs form one replica, split by the engine's default (tensor
parallel) unless ``pipeline_parallel`` (stages; tensor parallel = n_gpus / stages),
``dp_attention`` (attention data parallel over the replica's GPUs, so the KV cache is not
replicated) or ``expert_parallel`` (MoE experts placed whole on GPUs) say otherwise; ``replicas``
independent copies serve together (data parallel), each holding a share of the load.
``max_num_seqs`` is the engine's batch cap as run (e.g. vLLM ``--max-num-seqs``).

Latency-bounded runs: ``latency_targets`` gives the targets a run was held to (e.g. "highest
throughput with p99 TPOT <= 50 ms"); the prediction is then the capacity within those targets,
as ``selfhost crossover`` plans it, not the offline maximum.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selfhost.catalog.schema import EntryId
from selfhost.schema_types import Flag, NonNegativeInt, Number, Positive, PositiveInt, TextChecked

Scope = Literal["total", "per_gpu", "single_stream", "requests", "tpot", "ttft", "batch_latency", "prefill"]
Unit = Literal["tokens/s", "requests/s", "ms", "s"]
KvDtype = Literal["auto", "bf16", "fp8"]
Statistic = Literal["mean", "median", "p90", "p95", "p99"]

#: Scopes whose value is a token rate, a request rate, and a time.
RATE_SCOPES: tuple[str, ...] = ("total", "per_gpu", "single_stream", "prefill")
REQUEST_SCOPES: tuple[str, ...] = ("requests",)
TIME_SCOPES: tuple[str, ...] = ("tpot", "ttft", "batch_latency")
#: Scopes that count tokens over the deployment (``tokens`` applies to them).
TOKEN_TOTAL_SCOPES: tuple[str, ...] = ("total", "per_gpu")
#: Seconds per unit of a time scope.
SECONDS_PER_UNIT: dict[str, float] = {"ms": 1e-3, "s": 1.0}


class Source(TextChecked):
    """Where a measurement was published: a document, and the commit it was read at."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3, description="Document and section the figure was copied from.")
    url: str = Field(default="", description="Permanent link (pinned to a commit where possible).")
    repo: str = ""
    path: str = ""
    commit: str = ""


class LatencyTargets(TextChecked):
    """The latency targets a serving run was held to; the measured value is the load within them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ttft_ms: Positive | None = Field(default=None, description="Time-to-first-token target. [ms]")
    tpot_ms: Positive | None = Field(default=None, description="Time-per-output-token target. [ms]")
    statistic: Statistic = Field(
        default="mean", description="Which statistic of the run the targets bound (mean, median, p99...)."
    )

    @model_validator(mode="after")
    def _some_target(self) -> LatencyTargets:
        if self.ttft_ms is None and self.tpot_ms is None:
            raise ValueError("give at least one of 'ttft_ms' and 'tpot_ms'")
        return self


class Measurement(TextChecked):
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
    engine_version: str = Field(
        default="",
        pattern=r"^(\d+(\.\d+)*)?$",
        description="The engine release measured (e.g. 0.6.3), where known; picks the engine generation.",
    )
    n_gpus: PositiveInt = Field(default=1, description="GPUs in one replica. [count]")
    replicas: PositiveInt = Field(
        default=1, description="Independent replicas (data parallel) that served the load together. [count]"
    )
    pipeline_parallel: PositiveInt = Field(
        default=1, description="Pipeline stages of a replica; tensor parallel = n_gpus / stages. [count]"
    )
    dp_attention: Flag = Field(
        default=False,
        description="Attention data parallel over the replica's GPUs (SGLang --enable-dp-attention, "
        "vLLM --data-parallel-size with --enable-expert-parallel): each rank keeps its own sequences' KV.",
    )
    expert_parallel: Flag = Field(
        default=False, description="MoE experts placed whole on GPUs (expert parallel) instead of sharded."
    )
    max_num_seqs: PositiveInt | None = Field(
        default=None, description="The engine's batch cap as run (vLLM --max-num-seqs). [sequences]"
    )
    # --- workload
    input_tokens: NonNegativeInt = Field(description="Prompt length. [tokens]")
    output_tokens: NonNegativeInt = Field(description="Generated tokens per request. [tokens]")
    concurrency: PositiveInt | Literal["max"] | None = Field(
        default=None,
        description="Sequences in flight (static batch or client count), or 'max' for offline maximum "
        "throughput. [sequences]",
    )
    request_rate: Positive | None = Field(
        default=None, description="Arrival rate of a rate-driven serving run. [requests/s]"
    )
    requests: PositiveInt | None = Field(
        default=None, description="Requests sent in the run, where known (bounds the batch). [count]"
    )
    lengths: Literal["fixed", "variable", "uniform"] = Field(
        default="fixed",
        description="How lengths were drawn per request: fixed; variable (ShareGPT-like, long-tailed output "
        "lengths, modelled as exponential); uniform (output lengths uniform from 1 to twice the mean, e.g. a "
        "random dataset with range ratio 0). The token counts are means.",
    )
    kv_dtype: KvDtype = Field(default="auto", description="KV-cache dtype: auto (16-bit), bf16, fp8.")
    batching: Literal["continuous", "static"] = Field(
        default="continuous",
        description="continuous (in-flight) batching, or a static batch whose prompts are all prefilled "
        "before decoding starts (changes the meaning of TTFT and TPOT, not of throughput).",
    )
    latency_targets: LatencyTargets | None = Field(
        default=None,
        description="Latency targets the run was held to; the value is then the load within them.",
    )
    # --- what was measured
    scope: Scope
    tokens: Literal["output", "input+output"] = Field(
        default="output", description="Which tokens a 'total' or 'per_gpu' rate counts."
    )
    statistic: Statistic = Field(
        default="mean", description="For a time scope: which statistic of the run the value is."
    )
    value: Positive = Field(description="The measured figure, in `unit`.")
    unit: Unit
    # --- provenance
    source: Source | Annotated[str, Field(min_length=3)]
    date: str = Field(default="", description="When the figure was measured or published.")
    quote: str = Field(default="", description="The source's row or sentence, verbatim.")
    quote_context: str = ""
    qualifiers: tuple[str, ...] = ()
    extra_metrics: dict[str, Number] = Field(
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
            raise ValueError(f"scope '{self.scope}' is a token rate: use unit 'tokens/s'")
        if self.scope in REQUEST_SCOPES and self.unit != "requests/s":
            raise ValueError(f"scope '{self.scope}' is a request rate: use unit 'requests/s'")
        if self.tokens != "output" and self.scope not in TOKEN_TOTAL_SCOPES:
            raise ValueError(
                f"'tokens' applies to scopes {', '.join(TOKEN_TOTAL_SCOPES)}, not '{self.scope}'"
            )
        if self.statistic != "mean" and self.scope not in TIME_SCOPES:
            raise ValueError(
                f"'statistic' applies to time scopes ({', '.join(TIME_SCOPES)}), not '{self.scope}'"
            )
        if self.scope == "batch_latency" and not isinstance(self.concurrency, int):
            raise ValueError("scope 'batch_latency' needs an integer 'concurrency' (the batch size)")
        if self.n_gpus % self.pipeline_parallel:
            raise ValueError(
                f"pipeline_parallel {self.pipeline_parallel} does not divide n_gpus {self.n_gpus}"
            )
        if self.latency_targets is not None and self.concurrency != "max":
            raise ValueError(
                "'latency_targets' describe a search for the highest load within them: use concurrency 'max'"
            )
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
