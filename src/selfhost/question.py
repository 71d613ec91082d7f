"""The question a command asks, as one frozen `Scenario`: every assumption in one place.

A Scenario is built once from a command's options (`Scenario.from_options`), echoed whole in
the report's assumptions (`Scenario.assumptions`), and passed to the library, which unpacks it
once per question (``crossover_report(catalog, scenario)``). It is data only: the catalog is
looked up by `selfhost.selection`, the engine keeps taking arrays.

A part a question does not have is None: `fit` has no request rate and no costs, `plan` takes
its token mixes from its workloads file, `sweep` has several rates and mixes instead of one.
A None part is neither used nor echoed.

This module imports nothing heavy: the CLI builds Scenarios before NumPy is needed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfhost.errors import InputError
from selfhost.limits import (
    MAX_COUNT,
    MAX_MAGNITUDE,
    MAX_RANGE_POINTS,
    MAX_RATE_RPS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_TOKENS,
    check_number,
)
from selfhost.staleness import DEFAULT_STALE_DAYS

if TYPE_CHECKING:
    from selfhost.scenarios import Workload

# Defaults of the CLI and of a Scenario built in code. Each is echoed in the assumptions.
DEFAULT_INPUT_TOKENS = 1000  # a chat turn with some history or a RAG prompt
DEFAULT_OUTPUT_TOKENS = 300  # a few paragraphs
DEFAULT_MAX_TPOT_MS = 100.0  # 10 tokens/s per user, faster than reading speed
DEFAULT_MAX_TTFT_MS = 3000.0  # an interactive reply starts within 3 s
DEFAULT_OPS_USD_PER_MONTH = 4000.0  # ~1/4 of a fully loaded SRE ($190k/yr) for on-call and upkeep
DEFAULT_TARGET_UTILIZATION = 0.7  # plan for 70 % of capacity: headroom for bursts and queueing
DEFAULT_HOURS_PER_MONTH = 730.0  # always on: 8760 h / 12
DEFAULT_PRICING = ("on-demand",)
DEFAULT_ENGINE = "auto"
DEFAULT_KV_DTYPE = "auto"
PROVISIONING = ("fixed", "autoscaled")  # replicas for the peak all month, or hour by hour
DEFAULT_PROVISIONING = "fixed"
DEFAULT_BILLING_HOURS = 1  # most clouds bill GPU instances by the second or minute: an hour is safe

Mix = tuple[int, int]  # (input tokens, output tokens) of one request


@dataclass(frozen=True)
class CostAssumptions:
    """How self-hosting is paid for and run.

    hours_per_month : Billed hours per month. [h]
    ops_usd_per_month : Fixed operations cost (SRE/on-call share, monitoring). [USD/month]
    setup_usd : One-off setup cost, shown as payback. [USD]
    target_utilization : Share of replica capacity planned for use. [unitless]
    min_replicas : Replicas always running. [count]
    cached_input_fraction : Share of API input tokens billed at the cached price. [unitless]
    pricing : GPU price kinds considered (on-demand, committed, spot, marketplace, owned).
    providers : Only these GPU providers; empty: every provider.
    """

    hours_per_month: float = DEFAULT_HOURS_PER_MONTH
    ops_usd_per_month: float = DEFAULT_OPS_USD_PER_MONTH
    setup_usd: float = 0.0
    target_utilization: float = DEFAULT_TARGET_UTILIZATION
    min_replicas: int = 1
    cached_input_fraction: float = 0.0
    pricing: tuple[str, ...] = DEFAULT_PRICING
    providers: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """The assumptions-block entries: every field under its name (units in the names), in
        field order, tuples as lists; a field added here is echoed without another line."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}


@dataclass(frozen=True)
class Traffic:
    """A traffic profile that the self-hosted bill follows, and how replicas are provisioned for it.

    file : The traffic-profile file read (`selfhost workload -o` writes one).
    hourly_rps : Mean request rate of each profile hour (168: a week from Monday 00:00, or 24:
        a day), scaled to the scenario's mean rate when --rps is given. [requests/s]
    file_mean_rps : The profile's mean rate as the file has it. [requests/s]
    provisioning : 'fixed' (enough replicas for the busiest hour, all month) or 'autoscaled'
        (each hour's replicas, at least the minimum, paid in whole billing blocks).
    billing_hours : Autoscaling pays a replica it starts for blocks of this many hours. [h]
    description : The profile's own description line.
    synthetic : True for a made-up profile (examples/traffic).
    tokens_from_profile : Which of input / output / cached-input tokens the profile set.
    """

    file: Path
    hourly_rps: tuple[float, ...]
    file_mean_rps: float
    provisioning: str = DEFAULT_PROVISIONING
    billing_hours: int = DEFAULT_BILLING_HOURS
    description: str = ""
    synthetic: bool = False
    tokens_from_profile: tuple[str, ...] = ()

    @property
    def flat(self) -> bool:
        """Every hour has the same rate: priced exactly as a sustained rate."""
        return len(set(self.hourly_rps)) == 1

    @property
    def mean_rps(self) -> float:
        """Mean of the hourly rates; a flat profile's rate exactly. [requests/s]"""
        if self.flat:
            return self.hourly_rps[0]
        return math.fsum(self.hourly_rps) / len(self.hourly_rps)

    @property
    def peak_rps(self) -> float:
        """The busiest hour's rate. [requests/s]"""
        return max(self.hourly_rps)

    @property
    def autoscaled(self) -> bool:
        return self.provisioning == "autoscaled"

    @property
    def billing_granularity_h(self) -> int | None:
        """The billing block of autoscaling, None for fixed provisioning. [h]"""
        return self.billing_hours if self.autoscaled else None

    def words(self) -> str:
        """'fixed for the peak' or 'autoscaled hourly (billed per 1 h)', for titles and notes."""
        if not self.autoscaled:
            return "fixed for the peak"
        return f"autoscaled by the hour, billed in blocks of {self.billing_hours} h"

    def record(self) -> dict[str, Any]:
        """The assumptions-block entry."""
        return {
            "file": str(self.file),
            "description": self.description,
            "synthetic": self.synthetic,
            "hours": len(self.hourly_rps),
            "mean_rps": self.mean_rps,
            "peak_rps": self.peak_rps,
            "peak_over_mean": self.peak_rps / self.mean_rps,
            "file_mean_rps": self.file_mean_rps,
            "provisioning": self.provisioning,
            "billing_hours": self.billing_hours,
            "tokens_from_profile": list(self.tokens_from_profile),
        }


@dataclass(frozen=True)
class Selection:
    """What may be deployed and what it is compared with, as the user named it (ids or aliases).

    models : Model ids; empty: every model except those kept only to test the throughput model.
    gpus : GPU ids; empty: every GPU (a costed question: every GPU with a price of the kinds asked).
    quants : Quantization ids; empty: every quantization.
    gpu_counts : GPUs per replica; empty: 1, 2, 4 and 8, up to one node. [count]
    engine : Serving-engine profile id, or 'auto' (the preferred engine per quantization and GPU).
    measured_only : Only GPUs with published measurements behind the engine profile.
    apis : API ids to compare with; empty: the comparable APIs.
    all_apis : Compare with every comparable API, not the cheapest of each kind.
    """

    models: tuple[str, ...] = ()
    gpus: tuple[str, ...] = ()
    quants: tuple[str, ...] = ()
    gpu_counts: tuple[int, ...] = ()
    engine: str = DEFAULT_ENGINE
    measured_only: bool = False
    apis: tuple[str, ...] = ()
    all_apis: bool = False

    def record(self) -> dict[str, Any]:
        """The assumptions-block entry (``measured_only`` is echoed beside it, as it always was)."""
        return {
            "models": list(self.models),
            "gpus": list(self.gpus),
            "quants": list(self.quants),
            "gpus_per_replica": list(self.gpu_counts),
            "engine": self.engine,
            "apis": list(self.apis),
            "all_apis": self.all_apis,
        }


@dataclass(frozen=True)
class Scenario:
    """Every assumption of one question. Frozen: built once, never reassembled.

    selection : What may be deployed and compared.
    input_tokens, output_tokens : Mean prompt and completion length; None where the question
        has no single mix (`sweep`: ``mixes``; `plan`: its workloads file). [tokens]
    context_tokens : Longest sequence one request may reach; None: one request. [tokens]
    max_tpot_ms, max_ttft_ms : Latency targets; None where the question has none (`fit`). [ms]
    kv_dtype : KV-cache element type: auto (BF16), bf16, fp8.
    costs : How self-hosting is paid for; None for questions without costs (`fit`, `estimate`).
    rps : The request rate asked about. [requests/s]
    rates : `sweep`: every rate, ascending. [requests/s]
    mixes : `sweep`: every (input, output) token mix. [tokens]
    samples, seed : Monte Carlo samples for P10/P50/P90 bands (0 = off) and their seed.
    stale_days : Prices older than this are flagged; None where no price is used. [days]
    catalog_overlays : Catalog files or directories read over the built-in catalog (--catalog).
    traffic : The traffic profile the self-hosted bill follows (--traffic); None: a sustained
        ``rps``. With a profile, ``rps`` is its mean rate and the token mix its token means.
    """

    selection: Selection = field(default_factory=Selection)
    input_tokens: int | None = DEFAULT_INPUT_TOKENS
    output_tokens: int | None = DEFAULT_OUTPUT_TOKENS
    context_tokens: int | None = None
    max_tpot_ms: float | None = DEFAULT_MAX_TPOT_MS
    max_ttft_ms: float | None = DEFAULT_MAX_TTFT_MS
    kv_dtype: str = DEFAULT_KV_DTYPE
    costs: CostAssumptions | None = field(default_factory=CostAssumptions)
    rps: float | None = None
    rates: tuple[float, ...] = ()
    mixes: tuple[Mix, ...] = ()
    samples: int = 0
    seed: int = 0
    stale_days: int | None = DEFAULT_STALE_DAYS
    catalog_overlays: tuple[Path, ...] = ()
    traffic: Traffic | None = None

    # ------------------------------------------------------------------ derived

    @property
    def context(self) -> int | None:
        """The context that must fit: ``context_tokens``, else one request (input + output). [tokens]"""
        if self.context_tokens is not None:
            return self.context_tokens
        if self.input_tokens is None or self.output_tokens is None:
            return None
        return self.input_tokens + self.output_tokens

    @property
    def workload(self) -> Workload:
        """The engine's view of one request: token mix, context and latency targets.

        Raises ValueError for a question without a single token mix (use `workloads`).
        """
        if self.input_tokens is None or self.output_tokens is None:
            raise ValueError("this scenario has no single token mix; see Scenario.workloads")
        return self._workload(self.input_tokens, self.output_tokens, self.context)

    def sequence(self) -> Workload:
        """One sequence of the scenario's context, as a memory fit needs it (`fit`): 1 + 1 tokens."""
        return self._workload(1, 1, self.context_tokens)

    def workloads_defaults(self) -> Workload:
        """The latency targets and KV dtype of workloads that set none (`plan`), on a 1 + 1 token mix."""
        return self._workload(1, 1, None)

    def workloads(self) -> list[Workload]:
        """One workload per token mix (`sweep`), or the one workload; context is one request each."""
        if not self.mixes:
            return [self.workload]
        return [self._workload(p, d, p + d) for p, d in self.mixes]

    def _workload(self, input_tokens: int, output_tokens: int, context: int | None) -> Workload:
        from selfhost.scenarios import Workload

        return Workload(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            context_tokens=context if context is not None else input_tokens + output_tokens,
            max_tpot_ms=math.inf if self.max_tpot_ms is None else self.max_tpot_ms,
            max_ttft_ms=math.inf if self.max_ttft_ms is None else self.max_ttft_ms,
            kv_dtype=self.kv_dtype,  # type: ignore[arg-type]
        )

    @property
    def priced(self) -> CostAssumptions:
        """The cost assumptions of a costed question. Raises ValueError when it has none."""
        if self.costs is None:
            raise ValueError("this scenario has no cost assumptions")
        return self.costs

    @property
    def rate(self) -> float:
        """The request rate of a question about one rate. Raises ValueError when it has none. [requests/s]"""
        if self.rps is None:
            raise ValueError("this scenario has no request rate")
        return self.rps

    def assumptions(self) -> dict[str, Any]:
        """The scenario, whole, for a report's assumptions block: every part it has, units in the keys."""
        mix = self.input_tokens is not None and self.output_tokens is not None
        parts: dict[str, Any] = {
            "mixes": [{"input_tokens": p, "output_tokens": d} for p, d in self.mixes] or None,
            "input_tokens": self.input_tokens if mix else None,
            "output_tokens": self.output_tokens if mix else None,
            "context_tokens": self.context,
            "max_tpot_ms": self.max_tpot_ms,
            "max_ttft_ms": self.max_ttft_ms,
            "kv_dtype": self.kv_dtype,
            **(self.costs.record() if self.costs is not None else {}),
            "rps": self.rps,
            "rates_rps": list(self.rates) or None,
            "measured_only": self.selection.measured_only,
            "selection": self.selection.record(),
            "uncertainty": {"samples": self.samples, "seed": self.seed} if self.samples else None,
            "stale_after_days": self.stale_days,
            "catalog_overlays": [str(path) for path in self.catalog_overlays],
            "traffic": self.traffic.record() if self.traffic is not None else None,
        }
        return {key: value for key, value in parts.items() if value is not None}

    # ------------------------------------------------------------------ from the command line

    @classmethod
    def from_options(cls, **given: Any) -> Scenario:
        """The scenario of a command's options, checked; an option the command does not take is None.

        ``given`` holds option values by parameter name (`OPTION_NAMES`). With ``rates`` given
        (even None), it is `sweep`'s grid: rates from ``rates`` and ``rps_range``, mixes from ``mix``.

        Raises:
            InputError: a value no question can use (the message names the option and the value).
            TypeError: a name that is no option (a programming error).
        """
        unknown = set(given) - set(OPTION_NAMES)
        if unknown:
            raise TypeError(f"Scenario.from_options() got unknown options: {sorted(unknown)}")
        v = given.get
        gpus, rps, context = v("gpus"), v("rps"), v("context")
        input_tokens, output_tokens = v("input_tokens"), v("output_tokens")
        for n in gpus or ():
            if n < 1:
                raise InputError(f"--gpus {n} must be at least 1")
            check_number(n, "--gpus", "GPUs", high=MAX_COUNT)
        if rps is not None:
            check_rate(rps)
        _check_ranges(given)
        traffic = None
        if v("traffic") is not None:
            traffic, rps, input_tokens, output_tokens, cached = _traffic(given)
            if cached is not None:
                given = {**given, "cached_input_fraction": cached}
                v = given.get
        elif v("provisioning") not in (None, DEFAULT_PROVISIONING):
            raise InputError(
                f"--provisioning {v('provisioning')} needs --traffic FILE: a sustained --rps needs the same "
                "replicas every hour"
            )
        if "rps" in given and rps is None:
            raise InputError("give the request rate (--rps), or a traffic profile (--traffic FILE)")
        kv = check_kv_dtype(v("kv_dtype") or DEFAULT_KV_DTYPE)
        one_request = None if input_tokens is None or output_tokens is None else input_tokens + output_tokens
        if context is not None and one_request is not None and context < one_request:
            raise InputError(
                f"--context {context} is shorter than one request ({input_tokens} input + "
                f"{output_tokens} output tokens)"
            )
        costs = _costs(given) if any(v(name) is not None for name in COST_OPTIONS) else None
        grid_rates: tuple[float, ...] = ()
        mixes: tuple[Mix, ...] = ()
        if "rates" in given:
            spaced = v("rps_range")
            every = [*(v("rates") or ()), *(parse_rps_range(spaced) if spaced else ())]
            for r in every:
                check_rate(r)
            grid_rates = tuple(sorted(set(every)))
            mixes = tuple(parse_mix(m) for m in v("mix") or ()) or (
                (DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS),
            )
        selection = Selection(
            models=_ids(v("model")),
            gpus=_ids(v("gpu")),
            quants=_ids(v("quant")),
            gpu_counts=tuple(gpus or ()),
            engine=v("engine") or DEFAULT_ENGINE,
            measured_only=bool(v("measured_only")),
            apis=_ids(v("api")),
            all_apis=bool(v("all_apis")),
        )
        return cls(
            selection=selection,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            context_tokens=context if context is not None else one_request,
            max_tpot_ms=v("max_tpot_ms"),
            max_ttft_ms=v("max_ttft_ms"),
            kv_dtype=kv,
            costs=costs,
            rps=rps,
            rates=grid_rates,
            mixes=mixes,
            samples=v("uncertainty") or 0,
            seed=v("seed") or 0,
            stale_days=v("stale_days"),
            catalog_overlays=tuple(v("catalog") or ()),
            traffic=traffic,
        )


#: Every option a Scenario is built from, by parameter name, in the order --help lists them.
OPTION_NAMES = (
    "rps", "traffic", "provisioning", "billing_hours", "rates", "rps_range", "mix", "model", "gpu", "quant", "gpus", "engine", "measured_only",
    "pricing", "provider", "api", "all_apis", "input_tokens", "output_tokens", "context", "max_tpot_ms",
    "max_ttft_ms", "kv_dtype", "ops_usd_per_month", "setup_usd", "target_utilization", "min_replicas",
    "hours_per_month", "cached_input_fraction", "uncertainty", "seed", "stale_days",
    "catalog",
)  # fmt: skip
#: The options of a costed question: any of them given makes `Scenario.costs`.
COST_OPTIONS = (
    "ops_usd_per_month", "setup_usd", "target_utilization", "min_replicas", "hours_per_month",
    "cached_input_fraction", "pricing", "provider",
)  # fmt: skip


def _costs(given: dict[str, Any]) -> CostAssumptions:
    """The cost assumptions of the options given; one not given takes the library default."""
    from selfhost.scenarios import check_pricing_kinds

    defaults = CostAssumptions()
    values = {name: given.get(name) for name in ("hours_per_month", "ops_usd_per_month", "setup_usd")}
    values |= {
        name: given.get(name) for name in ("target_utilization", "min_replicas", "cached_input_fraction")
    }
    return CostAssumptions(
        **{name: getattr(defaults, name) if value is None else value for name, value in values.items()},
        pricing=tuple(check_pricing_kinds(_ids(given.get("pricing")) or DEFAULT_PRICING)),
        providers=tuple(given.get("provider") or ()),
    )


def _traffic(given: dict[str, Any]) -> tuple[Traffic, float, int | None, int | None, float | None]:
    """The --traffic profile read and checked, with the rate and tokens it sets.

    Returns the `Traffic`, the scenario's mean rate (--rps, to which the profile is scaled, or
    the profile's own mean), the input and output tokens per request (the profile's means where
    it records them, else the options') and the cached-input fraction it records (or None).

    Raises:
        InputError: an unreadable or invalid profile, an unknown provisioning, billing hours
            that do not divide the profile's hours, or a token option that disagrees with it.
    """
    from selfhost.traffic_profile import read_profile

    path = Path(given["traffic"])
    profile = read_profile(path)
    provisioning = given.get("provisioning") or DEFAULT_PROVISIONING
    if provisioning not in PROVISIONING:
        raise InputError(f"unknown --provisioning '{provisioning}'; use one of: {', '.join(PROVISIONING)}")
    billing = given.get("billing_hours") or DEFAULT_BILLING_HOURS
    n = len(profile.hourly_rps)
    if billing < 1 or n % billing:
        raise InputError(
            f"--billing-hours {billing} must be a whole number of hours dividing the profile's {n} "
            "(1, 2, 3, 4, 6, 8, 12 or 24)"
        )
    rates = tuple(profile.hourly_rps)
    flat = len(set(rates)) == 1
    file_mean = rates[0] if flat else profile.mean_rps
    rps = given.get("rps")
    if rps is None:
        rps = file_mean
    elif not rps > 0:
        raise InputError(f"--rps {rps:g} cannot scale a traffic profile: give a mean rate above 0")
    elif flat:
        rates = (float(rps),) * n
    else:
        rates = tuple(r * (rps / file_mean) for r in rates)
    tokens = profile.tokens
    set_by: list[str] = []
    values: list[int | None] = []
    for kind, stats, option, default in (
        ("input", tokens.input, "input_tokens", DEFAULT_INPUT_TOKENS),
        ("output", tokens.output, "output_tokens", DEFAULT_OUTPUT_TOKENS),
    ):
        given_value = given.get(option)
        if stats is None:
            values.append(given_value)
            continue
        mine = max(1, round(stats.mean))
        if given_value is not None and given_value not in (default, mine):
            flag = "--" + option.replace("_", "-")
            raise InputError(
                f"{flag} {given_value} disagrees with the profile's mean of {mine} {kind} tokens per request "
                f"({path}); the profile's tokens are used: leave {flag} out, or edit the profile"
            )
        values.append(mine)
        set_by.append(kind)
    cached = profile.cached_input_fraction
    if cached is not None:
        asked = given.get("cached_input_fraction")
        if asked not in (None, 0.0) and abs(asked - cached) > 1e-9:
            raise InputError(
                f"--cached-input-fraction {asked:g} disagrees with the profile's cached share of input "
                f"tokens, {cached:.3g} ({path}): leave it out, or edit the profile"
            )
        set_by.append("cached_input")
    traffic = Traffic(
        file=path,
        hourly_rps=rates,
        file_mean_rps=file_mean,
        provisioning=provisioning,
        billing_hours=billing,
        description=profile.description,
        synthetic=profile.source.synthetic,
        tokens_from_profile=tuple(set_by),
    )
    return traffic, float(rps), values[0], values[1], cached


def _ids(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A repeatable option's values, or the one value of a single-valued option, as a tuple.

    Each value may list several, comma-separated: ``--pricing on-demand,committed`` is
    ``--pricing on-demand --pricing committed`` (ids never hold a comma).
    """
    if value is None:
        return ()
    values = (value,) if isinstance(value, str) else tuple(value)
    return tuple(part.strip() for v in values for part in v.split(",") if part.strip())


def check_rate(rps: float, option: str = "--rps") -> float:
    """A request rate must be finite, not negative and at most `MAX_RATE_RPS`. [requests/s]"""
    if isinstance(rps, bool) or not isinstance(rps, int | float):
        raise InputError(f"{option} {rps!r} is not a number of requests per second")
    if not 0 <= rps < math.inf:
        raise InputError(f"{option} {rps:g} must be a finite, non-negative number of requests per second")
    return float(check_number(rps, option, "requests/s", high=MAX_RATE_RPS))


#: Range of each numeric option: option -> (lowest, highest, unit). The lower bounds repeat
#: Typer's (which let NaN through: every comparison with NaN is false).
OPTION_RANGES: dict[str, tuple[float, float, str]] = {
    "input_tokens": (1, MAX_TOKENS, "tokens"),
    "output_tokens": (1, MAX_TOKENS, "tokens"),
    "context": (1, MAX_TOKENS, "tokens"),
    "max_tpot_ms": (0.001, MAX_MAGNITUDE, "ms"),
    "max_ttft_ms": (0.001, MAX_MAGNITUDE, "ms"),
    "ops_usd_per_month": (0, MAX_MAGNITUDE, "USD/month"),
    "setup_usd": (0, MAX_MAGNITUDE, "USD"),
    "min_replicas": (1, MAX_COUNT, "replicas"),
    "hours_per_month": (1, 744, "h"),
    "billing_hours": (1, MAX_COUNT, "h"),
    "target_utilization": (0.01, 1.0, "0-1"),
    "cached_input_fraction": (0, 1.0, "0-1"),
    "stale_days": (0, MAX_MAGNITUDE, "days"),
    "uncertainty": (0, MAX_SAMPLES, "samples"),
    "seed": (0, MAX_SEED, "seed"),
}


def _check_ranges(given: dict[str, Any]) -> None:
    """Every numeric option given is a number in its range (`OPTION_RANGES`), else InputError.

    Typer has parsed the text; this bounds what it accepted (``--rps 1e300``, ``--seed -1``,
    ``--uncertainty 1e12``), so the arithmetic behind every question stays finite and bounded.
    """
    for name, (low, high, unit) in OPTION_RANGES.items():
        value = given.get(name)
        if value is None:
            continue
        option = "--" + name.replace("_", "-")
        if name == "seed":  # an integer of any size NumPy accepts, not a magnitude
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
                raise InputError(f"--seed {value!r} is out of range: give an integer from 0 to 2**128 - 1")
            continue
        check_number(value, option, unit, low=low, high=high)


def check_kv_dtype(kv_dtype: str) -> str:
    from selfhost.scenarios import KV_BYTES_PER_ELEMENT

    if kv_dtype not in KV_BYTES_PER_ELEMENT:
        raise InputError(f"unknown --kv-dtype '{kv_dtype}'; use one of: {', '.join(KV_BYTES_PER_ELEMENT)}")
    return kv_dtype


def parse_mix(text: str) -> Mix:
    """'1000:300' -> (1000, 300) input and output tokens."""
    parts = text.split(":")
    try:
        p, d = (int(x) for x in parts)
    except ValueError:
        raise InputError(f"--mix '{text}' must be INPUT:OUTPUT tokens, e.g. 1000:300") from None
    if p < 1 or d < 1:
        raise InputError(f"--mix '{text}' needs at least 1 input and 1 output token")
    if max(p, d) > MAX_TOKENS:
        raise InputError(f"--mix '{text}': at most {MAX_TOKENS:,} tokens per request")
    return p, d


def parse_rps_range(text: str) -> list[float]:
    """'0.1:100:10' -> 10 log-spaced rates from 0.1 to 100 req/s."""
    try:
        start, stop, count = text.split(":")
        lo, hi, n = float(start), float(stop), int(count)
    except ValueError:
        raise InputError(f"--rps-range '{text}' must be START:STOP:COUNT, e.g. 0.1:100:10") from None
    if not (0 < lo < hi) or n < 2:
        raise InputError(f"--rps-range '{text}' needs 0 < START < STOP and COUNT >= 2")
    if n > MAX_RANGE_POINTS:
        raise InputError(
            f"--rps-range '{text}': COUNT {n:,} is more than the {MAX_RANGE_POINTS:,} rates allowed"
        )
    check_rate(lo, f"--rps-range '{text}': START")
    check_rate(hi, f"--rps-range '{text}': STOP")
    import numpy as np

    return [float(x) for x in np.geomspace(lo, hi, n)]
