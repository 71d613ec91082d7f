"""Options shared by commands, each declared once, and the decorator that attaches them.

Every option is one ``Annotated`` alias (``RpsOpt``, ...); `PARAMETERS` turns each into the
parameter a command's signature gets, named as its long flag and with the library's default
(`selfhost.question`, where the defaults and their reasons live). A command takes its
question's options with `question_options`, which appends them to the command's signature
(Typer reads ``__signature__``), builds the `Scenario` from the values given and hands it to
the command: a command's own signature lists only what is specific to it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from selfhost import question as q
from selfhost.staleness import DEFAULT_STALE_DAYS

DEFAULT_FIT_CONTEXT = 32768  # the article's "about 32K context" sizing
DEFAULT_REPORT_SAMPLES = 100_000  # report.DEFAULT_SAMPLES: well under a second for the default selection


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


FormatOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output: a table; JSON (results, assumptions, notes); JSONL (one result per line, for "
        "pandas.read_json(..., lines=True)); CSV for spreadsheets.",
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every table column at its full width, even past the terminal's edge (a narrow "
        "terminal otherwise gets the essential columns and a line naming the others).",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace an existing --output file.")]
CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        metavar="PATH",
        help="Extra catalog YAML file or directory, overriding built-in entries by id (repeatable). "
        "Also read from $SELFHOST_CATALOG.",
    ),
]
RpsOpt = Annotated[
    float, typer.Option("--rps", "-r", metavar="RPS", help="Sustained request rate. [requests/s]")
]
OptionalRpsOpt = Annotated[
    float | None,
    typer.Option(
        "--rps",
        "-r",
        metavar="RPS",
        help="Sustained request rate; with --traffic, the mean rate the profile is scaled to "
        "(default: the profile's own mean). [requests/s]",
    ),
]
TrafficOpt = Annotated[
    Path | None,
    typer.Option(
        "--traffic",
        metavar="FILE",
        help="Traffic profile (YAML, as `selfhost workload -o` writes; examples/traffic/): price its hourly "
        "shape instead of a flat --rps, with its tokens per request. The crossover is then a mean rate, "
        "the profile scaled as a whole (docs/traffic-cost.md).",
    ),
]
ProvisioningOpt = Annotated[
    str,
    typer.Option(
        "--provisioning",
        metavar="fixed|autoscaled",
        help="With --traffic: 'fixed' (replicas for the busiest hour at the target utilization, all month) "
        "or 'autoscaled' (each hour's replicas, at least the minimum, paid in blocks of the billing hours).",
    ),
]
BillingHoursOpt = Annotated[
    int,
    typer.Option(
        "--billing-hours",
        metavar="H",
        min=1,
        max=24,
        help="Autoscaling pays each replica it starts for whole blocks of this many hours (the provider's "
        "billing granularity, or how long you keep a replica warm); must divide 24. [h]",
    ),
]
RatesOpt = Annotated[
    list[float] | None,
    typer.Option("--rps", "-r", metavar="RPS", help="Request rate (repeatable). [requests/s]"),
]
RpsRangeOpt = Annotated[
    str | None,
    typer.Option("--rps-range", metavar="START:STOP:COUNT", help="START:STOP:COUNT log-spaced rates."),
]
MixOpt = Annotated[
    list[str] | None,
    typer.Option("--mix", metavar="INPUT:OUTPUT", help="INPUT:OUTPUT tokens per request (repeatable)."),
]
ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model", "-m", metavar="ID", help="Model id (repeatable, or comma-separated). Default: all."
    ),
]
GpuOpt = Annotated[
    list[str] | None,
    typer.Option("--gpu", "-g", metavar="ID", help="GPU id (repeatable, or comma-separated). Default: all."),
]
QuantOpt = Annotated[
    list[str] | None,
    typer.Option("--quant", "-q", metavar="ID", help="Quantization id (repeatable). Default: all."),
]
GpusOpt = Annotated[
    list[int] | None,
    typer.Option(
        "--gpus",
        "-n",
        metavar="N",
        help="GPUs per replica, tensor parallel (repeatable). Default: 1, 2, 4, 8.",
    ),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        metavar="ID",
        help="Serving engine profile id, or 'auto': the first of vLLM, SGLang, TensorRT-LLM, llama.cpp, "
        "MLX that loads the quantization on that GPU (vLLM for safetensors on CUDA/ROCm, llama.cpp for GGUF).",
    ),
]
MeasuredOnlyOpt = Annotated[
    bool,
    typer.Option(
        "--measured-only",
        help="Only deployments on a GPU and in a layout with published throughput measurements "
        "behind the engine profile (gpu_measured, layout_measured; docs/accuracy.md lists them): "
        "no extrapolated capacity.",
    ),
]
PricingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pricing",
        metavar="KIND",
        help="Price kinds to consider (repeatable, or comma-separated: on-demand,committed): on-demand, "
        "committed, spot, marketplace, owned, all. Default: on-demand.",
    ),
]
ProviderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--provider", metavar="NAME", help="Only these GPU providers (repeatable), e.g. DigitalOcean."
    ),
]
ApiOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--api",
        metavar="ID",
        help="API offering id to compare against (repeatable). Default: comparable APIs.",
    ),
]
AllApisOpt = Annotated[
    bool, typer.Option("--all-apis", help="Compare with every comparable API, not the cheapest of each kind.")
]
InputTokensOpt, OutputTokensOpt = (
    Annotated[
        int, typer.Option(flag, metavar="TOKENS", min=1, help=f"Mean {what} length per request. [tokens]")
    ]
    for flag, what in (("--input-tokens", "prompt"), ("--output-tokens", "completion"))
)
ContextOpt = Annotated[
    int | None,
    typer.Option(
        "--context",
        metavar="TOKENS",
        min=1,
        help="Longest sequence one request may reach; must fit. [tokens]",
    ),
]
MaxTpotOpt, MaxTtftOpt = (
    Annotated[float, typer.Option(flag, metavar="MS", min=0.001, help=f"{what} target. [ms]")]
    for flag, what in (("--max-tpot-ms", "Time-per-output-token"), ("--max-ttft-ms", "Time-to-first-token"))
)
KvDtypeOpt = Annotated[
    str, typer.Option("--kv-dtype", metavar="DTYPE", help="KV-cache dtype: auto (BF16), bf16, fp8.")
]
# The costs' bounded numbers: flag, metavar, bounds, help.
OpsOpt, SetupOpt, UtilOpt, HoursOpt, CachedOpt = (
    Annotated[float, typer.Option(flag, metavar=metavar, help=help, **bounds)]
    for flag, metavar, bounds, help in (
        ("--ops-usd-per-month", "USD", {"min": 0}, "Fixed self-hosting operations cost (SRE, monitoring). [USD/month]"),
        ("--setup-usd", "USD", {"min": 0}, "One-off setup cost, shown as payback. [USD]"),
        ("--target-utilization", "SHARE", {"min": 0.01, "max": 1.0}, "Share of replica capacity you plan to use. [0-1]"),
        ("--hours-per-month", "HOURS", {"min": 1, "max": 744}, "Billed hours per month (730 = always on). [h]"),
        ("--cached-input-fraction", "SHARE", {"min": 0, "max": 1}, "Share of API input billed at the cached price. [0-1]"),
    )
)  # fmt: skip
MinReplicasOpt = Annotated[
    int, typer.Option("--min-replicas", metavar="N", min=1, help="Replicas always running. [count]")
]
LimitOpt = Annotated[
    int, typer.Option("--limit", min=0, metavar="N", help="Show at most this many rows (0 = all).")
]
CostLimitOpt = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=0,
        metavar="N",
        help="Show at most N rows, 0 = all. Default: 20 in a table, all in JSON, JSONL and CSV.",
        show_default=False,
    ),
]
StaleDaysOpt = Annotated[
    int,
    typer.Option(
        "--stale-days",
        metavar="DAYS",
        min=0,
        help="Flag prices used that are older than this many days. [days]",
    ),
]
UncertaintyOpt = Annotated[
    int,
    typer.Option(
        "--uncertainty",
        metavar="N",
        min=0,
        help="Monte Carlo samples for P10/P50/P90 bands (0 = off; 100000 takes well under a second). "
        "GPU prices vary across the catalog's providers, API prices +-10 %, engine efficiency lognormal "
        "sigma 0.27 (0.43 on a GPU without measurements behind the engine profile).",
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", metavar="N", help="Random seed for --uncertainty; same seed, same output.")
]
BaselineOpt = Annotated[
    Path | None,
    typer.Option(
        "--baseline",
        metavar="PATH",
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
        "(needs: pip install 'selfhost-llm[chart]').",
    ),
]


# Variants of a shared option for one command (a different type, default or help), by command.
ModelArg = Annotated[
    str, typer.Argument(help="Model id, e.g. llama-3.3-70b (see: selfhost catalog list models).")
]
FitContextOpt = Annotated[
    int,
    typer.Option("--context", "-c", metavar="TOKENS", min=1, help="Sequence length that must fit. [tokens]"),
]
OneModelOpt, OneGpuOpt = (
    Annotated[str, typer.Option(f"--{what}", f"-{what[0]}", metavar="ID", help=f"{label} id.")]
    for what, label in (("model", "Model"), ("gpu", "GPU"))
)
ModelsOpt, GpuListOpt = (
    Annotated[
        list[str], typer.Option(f"--{what}", f"-{what[0]}", metavar="ID", help=f"{label} id (repeatable).")
    ]
    for what, label in (("model", "Model"), ("gpu", "GPU"))
)
DefaultTpotOpt, DefaultTtftOpt = (
    Annotated[float, typer.Option(flag, min=0.001, help=f"{what} target of workloads that set none. [ms]")]
    for flag, what in (("--max-tpot-ms", "Time-per-output-token"), ("--max-ttft-ms", "Time-to-first-token"))
)
ReportSamplesOpt = Annotated[
    int,
    typer.Option(
        "--uncertainty",
        metavar="N",
        min=0,
        help="Monte Carlo samples for the P10/P50/P90 band (0 = leave the band out).",
    ),
]

# --------------------------------------------------------------------------- shared parameters

REQUIRED = inspect.Parameter.empty

#: Every shared option's alias; its parameter is named as its long flag (``--max-tpot-ms``: max_tpot_ms).
SHARED_ALIASES = (
    RpsOpt, TrafficOpt, ProvisioningOpt, BillingHoursOpt, RpsRangeOpt, MixOpt, ModelOpt, GpuOpt, QuantOpt, GpusOpt, EngineOpt, MeasuredOnlyOpt,
    PricingOpt, ProviderOpt, ApiOpt, AllApisOpt, InputTokensOpt, OutputTokensOpt, ContextOpt,
    MaxTpotOpt, MaxTtftOpt, KvDtypeOpt, OpsOpt, SetupOpt, UtilOpt, MinReplicasOpt, HoursOpt,
    CachedOpt, UncertaintyOpt, SeedOpt, StaleDaysOpt, CatalogOpt,
)  # fmt: skip
#: Defaults: the library's (a Scenario built in code gets the same); REQUIRED must be given;
#: an option not named here defaults to None, "not given" (repeatable options, --context).
DEFAULTS: dict[str, Any] = {
    "rps": REQUIRED, "engine": q.DEFAULT_ENGINE, "measured_only": False, "all_apis": False,
    "input_tokens": q.DEFAULT_INPUT_TOKENS, "output_tokens": q.DEFAULT_OUTPUT_TOKENS,
    "max_tpot_ms": q.DEFAULT_MAX_TPOT_MS, "max_ttft_ms": q.DEFAULT_MAX_TTFT_MS, "kv_dtype": q.DEFAULT_KV_DTYPE,
    "ops_usd_per_month": q.DEFAULT_OPS_USD_PER_MONTH, "setup_usd": 0.0, "min_replicas": 1,
    "target_utilization": q.DEFAULT_TARGET_UTILIZATION, "hours_per_month": q.DEFAULT_HOURS_PER_MONTH,
    "cached_input_fraction": 0.0, "uncertainty": 0, "seed": 0, "stale_days": DEFAULT_STALE_DAYS,
    "provisioning": q.DEFAULT_PROVISIONING, "billing_hours": q.DEFAULT_BILLING_HOURS,
}  # fmt: skip


def parameter_name(alias: Any) -> str:
    """The parameter name of an option alias: its longest flag, '--max-tpot-ms' -> 'max_tpot_ms'."""
    info = alias.__metadata__[0]
    flags = [d for d in (info.default, *(info.param_decls or ())) if isinstance(d, str)]
    return max(flags, key=len).lstrip("-").replace("-", "_")


def parameter(name: str, alias: Any, default: Any = REQUIRED) -> inspect.Parameter:
    """One option as the parameter a command's signature gets: ``name: alias = default``."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=alias, default=default)


PARAMETERS = {
    name: parameter(name, alias, DEFAULTS.get(name))
    for name, alias in ((parameter_name(a), a) for a in SHARED_ALIASES)
}
#: The order every command's --help lists the shared options in.
ORDER = q.OPTION_NAMES

# The groups of options, and each command's question (`question_options` adds the variants).
SELECTION = ("model", "gpu", "quant", "gpus", "engine", "measured_only", "pricing", "provider", "catalog")
WORKLOAD = ("input_tokens", "output_tokens", "context", "max_tpot_ms", "max_ttft_ms", "kv_dtype")
COSTS = ("ops_usd_per_month", "target_utilization", "min_replicas", "hours_per_month")
TRAFFIC = ("traffic", "provisioning", "billing_hours")
CROSSOVER = (
    "rps", *TRAFFIC, *SELECTION, "api", "all_apis", *WORKLOAD, *COSTS, "setup_usd", "cached_input_fraction",
    "uncertainty", "seed", "stale_days",
)  # fmt: skip
COST = ("rps", *TRAFFIC, *SELECTION, *WORKLOAD, *COSTS, "uncertainty", "seed", "stale_days")
SENSITIVITY = ("rps", *SELECTION, "api", "all_apis", *WORKLOAD, *COSTS, "cached_input_fraction", "stale_days")
REPORT = (*SENSITIVITY, *TRAFFIC, "uncertainty", "seed")
SWEEP = ("rps_range", "mix", *SELECTION, "api", *WORKLOAD[3:], *COSTS, "cached_input_fraction", "stale_days")
PLAN = (*SELECTION[1:], *WORKLOAD[3:], *COSTS, "cached_input_fraction", "stale_days")
FIT = ("model", "gpu", "quant", "gpus", "engine", "context", "kv_dtype", "catalog")
DEPLOYMENT = ("model", "gpu", "quant", "gpus", "engine", *WORKLOAD[:2], *WORKLOAD[3:], "catalog")

F = TypeVar("F", bound=Callable[..., Any])


def format_hint_option(kinds: type[Enum]) -> Any:
    """The ``--format-hint KIND`` option of a command that reads another tool's files: read the
    file as one of ``kinds`` (an Enum of format names) instead of recognising it."""
    return typer.Option(
        None,
        "--format-hint",
        metavar="KIND",
        help="Read the file as this format instead of recognising it: "
        + ", ".join(kind.value for kind in kinds)
        + ".",
    )


def own_parameters(command: Callable[..., Any], skip: str) -> list[inspect.Parameter]:
    """The command's parameters but ``skip``, annotations evaluated (they are strings under
    ``from __future__ import annotations``) and made keyword-only, so they may follow the group."""
    evaluated = []
    for p in inspect.signature(command).parameters.values():
        if p.name == skip:
            continue
        annotation = p.annotation
        if isinstance(annotation, str):  # our own source text, as inspect.signature(eval_str=True) does
            annotation = eval(annotation, command.__globals__)
        evaluated.append(p.replace(annotation=annotation, kind=inspect.Parameter.KEYWORD_ONLY))
    return evaluated


def question_options(names: Iterable[str], **variants: tuple[Any, Any]) -> Callable[[F], F]:
    """Attach the shared options ``names`` to a command, which receives them as one built `Scenario`.

    ``variants`` replace an option's parameter for this command: ``name=(alias, default)``.
    The command is defined as ``def cmd(scenario: Scenario, <own options>)``; its --help lists
    the shared options (in `ORDER`), then its own. The values given build the scenario once,
    ``Scenario.from_options(**values)``; a bad value is a one-line error (exit code 2).
    """
    chosen = {name: PARAMETERS.get(name) for name in names}
    chosen |= {name: parameter(name, alias, default) for name, (alias, default) in variants.items()}
    missing = [name for name, p in chosen.items() if p is None or name not in ORDER]
    if missing or len(list(names)) != len(set(names)):
        raise TypeError(f"shared options must be distinct names from options.ORDER: {missing or list(names)}")
    group = sorted((p for p in chosen.values() if p is not None), key=lambda p: ORDER.index(p.name))

    def attach(command: F) -> F:
        own = own_parameters(command, skip="scenario")
        clash = {p.name for p in own} & set(chosen)
        if clash:
            raise TypeError(f"{command.__name__} declares shared options itself: {sorted(clash)}")

        def run(**given: Any) -> Any:
            from selfhost.cli.common import guarded
            from selfhost.question import Scenario

            asked = {name: given.pop(name) for name in chosen}
            scenario = guarded(lambda: Scenario.from_options(**asked))
            return command(scenario=scenario, **given)

        functools.update_wrapper(run, command)  # name and docstring: the command's --help
        run.__signature__ = inspect.Signature([*group, *own])  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in (*group, *own)}
        return run  # type: ignore[return-value]

    return attach
