"""Options shared by commands, defined once, with the defaults and why they were chosen."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from selfhost.staleness import DEFAULT_STALE_DAYS as DEFAULT_STALE_DAYS

# Defaults. Every one is echoed in the output's "assumptions" block.
DEFAULT_INPUT_TOKENS = 1000  # a chat turn with some history or a RAG prompt
DEFAULT_OUTPUT_TOKENS = 300  # a few paragraphs
DEFAULT_MAX_TPOT_MS = 100.0  # 10 tokens/s per user, faster than reading speed
DEFAULT_MAX_TTFT_MS = 3000.0  # an interactive reply starts within 3 s
DEFAULT_OPS_USD_PER_MONTH = 4000.0  # ~1/4 of a fully loaded SRE ($190k/yr) for on-call and upkeep
DEFAULT_TARGET_UTILIZATION = 0.7  # plan for 70 % of capacity: headroom for bursts and queueing
DEFAULT_HOURS_PER_MONTH = 730.0  # always on: 8760 h / 12
DEFAULT_FIT_CONTEXT = 32768  # the article's "about 32K context" sizing


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


FormatOpt = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="Output: a Rich table, or JSON / CSV for spreadsheets.")
]
CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        help="Extra catalog YAML file or directory, overriding built-in entries by id (repeatable). "
        "Also read from $SELFHOST_CATALOG.",
    ),
]
ModelOpt = Annotated[
    list[str] | None, typer.Option("--model", "-m", help="Model id (repeatable). Default: all.")
]
GpuOpt = Annotated[list[str] | None, typer.Option("--gpu", "-g", help="GPU id (repeatable). Default: all.")]
QuantOpt = Annotated[
    list[str] | None, typer.Option("--quant", "-q", help="Quantization id (repeatable). Default: all.")
]
GpusOpt = Annotated[
    list[int] | None,
    typer.Option("--gpus", "-n", help="GPUs per replica, tensor parallel (repeatable). Default: 1, 2, 4, 8."),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Serving engine profile id, or 'auto': the first of vLLM, SGLang, TensorRT-LLM, llama.cpp, "
        "MLX that loads the quantization on that GPU (vLLM for safetensors on CUDA/ROCm, llama.cpp for GGUF).",
    ),
]
MeasuredOnlyOpt = Annotated[
    bool,
    typer.Option(
        "--measured-only",
        help="Only deployments on a GPU with published throughput measurements behind the engine "
        "profile (gpu_measured; docs/accuracy.md lists them): no extrapolated capacity.",
    ),
]
PricingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pricing",
        help="Price kinds to consider (repeatable): on-demand, committed, spot, marketplace, owned, all. "
        "Default: on-demand.",
    ),
]
ProviderOpt = Annotated[
    list[str] | None,
    typer.Option("--provider", help="Only these GPU providers (repeatable), e.g. DigitalOcean."),
]
ApiOpt = Annotated[
    list[str] | None,
    typer.Option("--api", help="API offering id to compare against (repeatable). Default: comparable APIs."),
]
InputTokensOpt = Annotated[
    int, typer.Option("--input-tokens", min=1, help="Mean prompt length per request. [tokens]")
]
OutputTokensOpt = Annotated[
    int, typer.Option("--output-tokens", min=1, help="Mean completion length per request. [tokens]")
]
ContextOpt = Annotated[
    int | None,
    typer.Option("--context", min=1, help="Longest sequence one request may reach; must fit. [tokens]"),
]
MaxTpotOpt = Annotated[
    float, typer.Option("--max-tpot-ms", min=0.001, help="Time-per-output-token target. [ms]")
]
MaxTtftOpt = Annotated[
    float, typer.Option("--max-ttft-ms", min=0.001, help="Time-to-first-token target. [ms]")
]
KvDtypeOpt = Annotated[str, typer.Option("--kv-dtype", help="KV-cache dtype: auto (BF16), bf16, fp8.")]
OpsOpt = Annotated[
    float,
    typer.Option(
        "--ops-usd-per-month", min=0, help="Fixed self-hosting operations cost (SRE, monitoring). [USD/month]"
    ),
]
SetupOpt = Annotated[
    float, typer.Option("--setup-usd", min=0, help="One-off setup cost, shown as payback. [USD]")
]
UtilOpt = Annotated[
    float,
    typer.Option(
        "--target-utilization", min=0.01, max=1.0, help="Share of replica capacity you plan to use. [0-1]"
    ),
]
MinReplicasOpt = Annotated[
    int, typer.Option("--min-replicas", min=1, help="Replicas always running. [count]")
]
HoursOpt = Annotated[
    float,
    typer.Option("--hours-per-month", min=1, max=744, help="Billed hours per month (730 = always on). [h]"),
]
CachedOpt = Annotated[
    float,
    typer.Option(
        "--cached-input-fraction", min=0, max=1, help="Share of API input billed at the cached price. [0-1]"
    ),
]
LimitOpt = Annotated[int, typer.Option("--limit", min=0, help="Show at most this many rows (0 = all).")]
StaleDaysOpt = Annotated[
    int,
    typer.Option(
        "--stale-days",
        min=0,
        help=f"Flag prices used that are older than this many days (default {DEFAULT_STALE_DAYS}). [days]",
    ),
]
UncertaintyOpt = Annotated[
    int,
    typer.Option(
        "--uncertainty",
        min=0,
        help="Monte Carlo samples for P10/P50/P90 bands (0 = off; 100000 takes well under a second). "
        "GPU prices vary across the catalog's providers, API prices +-10 %, engine efficiency lognormal "
        "sigma 0.25 (0.37 on a GPU without measurements behind the engine profile).",
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="Random seed for --uncertainty; same seed, same output.")
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        help="Compare with the last review: an old catalog (YAML file or directory, run with the same "
        "options in place of today's catalog) or a saved `crossover --format json` result. Shows how "
        "each crossover and monthly cost moved, and the catalog changes that caused it.",
    ),
]
ChartOpt = Annotated[
    bool,
    typer.Option(
        "--chart",
        help="Also draw monthly cost against request rate in the terminal, crossovers marked "
        "(needs: pip install 'selfhost\\[chart]').",
    ),
]
