"""The budget-review document: one Markdown or HTML file for the meeting.

`review_data` computes every figure the meeting needs, each by the library function the
matching command uses: the crossover with its uncertainty band (`crossover --uncertainty`),
the tornado (`sensitivity`), the fit of the chosen deployments (`fit`), the cost-against-rate
chart (`crossover --chart`), the stale prices and, with a baseline, what changed
(`crossover --baseline`). `document` lays them out as blocks (headings, paragraphs, tables,
the chart), formatting every number once with `selfhost.render`'s formatters, and
`to_markdown` / `to_html` write those blocks, so both files show the same figures as the
commands' tables and JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from selfhost._version import __version__
from selfhost.analysis import Record, Report, fit
from selfhost.baseline import Baseline, cause_text
from selfhost.catalog.lookup import by_id
from selfhost.chart import CostChart, chart_table, crossover_words
from selfhost.escape import md_cell, md_code, md_fence, md_text
from selfhost.question import Scenario
from selfhost.questions import crossover
from selfhost.render import (
    NOTATION,
    deployment_words,
    never_or,
    num0,
    num1,
    num2,
    probability,
    sig3,
    tornado_bars,
    usd,
    usd_mtok,
)
from selfhost.scenarios import ReplicaConfig
from selfhost.sensitivity import INPUTS, sensitivity_report
from selfhost.staleness import DEFAULT_STALE_DAYS, current_date

if TYPE_CHECKING:
    from pathlib import Path

    from selfhost.catalog.schema import Catalog, Entry

DEFAULT_SAMPLES = 100_000  # the benchmark size; well under a second for the default selection
CHART_ALT = (
    "Monthly cost against request rate for the best self-hosted deployments and the APIs, crossovers marked"
)


# --------------------------------------------------------------------------- the figures


@dataclass
class ReviewData:
    """Every figure of the review, as the commands compute them.

    crossover : `crossover` records, with P10/P50/P90 keys when ``samples`` > 0, stale prices flagged.
    sensitivity : `sensitivity` records (the tornado) at ``spread``; none with a traffic profile.
    fit : `fit` records of each model's chosen deployment.
    chart : The cost-against-rate chart as data; None with a traffic profile.
    changes : `crossover --baseline` records, or None without a baseline.
    """

    catalog: Catalog
    scenario: Scenario
    crossover: Report
    sensitivity: Report
    fit: Report
    chart: CostChart | None
    changes: Report | None
    spread: float
    generated: dt.date
    commands: list[str] = field(default_factory=list)

    @property
    def stale_days(self) -> int:
        return DEFAULT_STALE_DAYS if self.scenario.stale_days is None else self.scenario.stale_days


def chosen_configs(configs: Sequence[ReplicaConfig], records: Sequence[Record]) -> list[ReplicaConfig]:
    """The replica config of each record's deployment, each once, in record order."""
    index = {(c.model.id, c.quant.id, c.gpu.id, c.n_gpus, c.layout, c.engine.id): c for c in configs}
    keys = dict.fromkeys(
        (r["model"], r["quant"], r["gpu"], int(r["gpus_per_replica"]), r["layout"], r["engine"])
        for r in records
    )
    return [index[k] for k in keys if k in index]


def review_data(
    catalog: Catalog,
    scenario: Scenario,
    *,
    spread: float = 0.3,
    baseline: Path | Callable[[], Baseline] | None = None,
    today: dt.date | None = None,
    commands: Sequence[str] = (),
) -> ReviewData:
    """Compute the review's figures: `crossover` with all its parts, the tornado and the fit.

    ``baseline`` is the last review (a path, or a function that reads it; read once, if given).
    """
    when = today or current_date()
    if scenario.traffic is not None:  # the chart, tornado and band model a sustained rate
        scenario = dataclasses.replace(scenario, samples=0)
        answer = crossover(catalog, scenario, baseline=baseline, today=when)
        sens = Report(results=[], assumptions={})
    else:
        answer = crossover(catalog, scenario, baseline=baseline, chart=True, today=when)
        sens = sensitivity_report(catalog, scenario, spread=spread)
        assert answer.chart is not None
    fitted = fit(chosen_configs(answer.grid.configs, answer.base.results), scenario.workload)
    return ReviewData(
        catalog=catalog,
        scenario=scenario,
        crossover=answer.report,
        sensitivity=sens,
        fit=fitted,
        chart=answer.chart,
        changes=answer.changes,
        spread=spread,
        generated=when,
        commands=list(commands),
    )


# --------------------------------------------------------------------------- blocks


class Mono(str):
    """A table cell drawn in a monospace font (tornado bars)."""


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Table:
    """A table: ``id`` names it in HTML; ``align`` is 'l' or 'r' per column."""

    id: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChartBlock:
    """The chart: an SVG document, or (without matplotlib) a fallback table and a note."""

    svg: str | None
    alt: str
    fallback: Table
    note: str


Block = Heading | Paragraph | Bullets | Code | Table | ChartBlock


def _table(table_id: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]]) -> Table:
    return Table(
        id=table_id,
        headers=tuple(h for h, _ in columns),
        rows=tuple(tuple(r) for r in rows),
        align=tuple(a for _, a in columns),
    )


def _band(record: Record, key: str, fmt: Callable[[Any], str]) -> str:
    return " / ".join(fmt(record.get(f"{key}_{q}")) for q in ("p10", "p50", "p90"))


def _arrow(fmt: Callable[[Any], str], low: Any, high: Any) -> str:
    return f"{fmt(low)} → {fmt(high)}"


def _models(records: Sequence[Record]) -> list[str]:
    return list(dict.fromkeys(r["model"] for r in records))


def _join(words: Sequence[str]) -> str:
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _flips(data: ReviewData, decisive: Sequence[Record]) -> dict[str, list[str]]:
    """Per model, the inputs whose -/+ range turns its decisive comparison's saving to the other sign."""
    pairs = {(r["model"], r["api"]) for r in decisive}
    labels = {i.key: i.label for i in INPUTS}
    flips: dict[str, list[str]] = {}
    for r in data.sensitivity.results:
        base = r["saving_usd_per_month_base"]
        if (r["model"], r["api"]) not in pairs or base is None:
            continue
        ends = [r["saving_usd_per_month_low"], r["saving_usd_per_month_high"]]
        if any(e is not None and (e > 0) != (base > 0) for e in ends):
            flips.setdefault(r["model"], []).append(labels[r["input"]])
    return flips


def _stale_words(count: int, days: int) -> str:
    """'1 price used is older than 90 days' / '3 of the prices used are older than 90 days'."""
    if count == 1:
        return f"1 price used is older than {days} days"
    return f"{count} of the prices used are older than {days} days"


CONFIDENT, FAIRLY = 0.9, 0.7  # share of the uncertainty samples agreeing with a decision: high, medium


def _confidence(v: Record, flips: Sequence[str], spread: str) -> str:
    """How sure the decision is, in words: from the uncertainty samples when there are any, else
    from the sensitivity (no single input moved ``spread`` flips it, or which ones do)."""
    p_self = v.get("probability_self_hosted_cheaper")
    if p_self is not None:
        agree = p_self if v["choice_kind"] == "self_hosted" else 1.0 - p_self
        level = "high" if agree >= CONFIDENT else "medium" if agree >= FAIRLY else "low"
        return f"confidence {level} ({probability(agree)} of the uncertainty samples agree)"
    if flips:
        return f"confidence low: moving {', '.join(flips[:MAX_FLIP_INPUTS])} {spread} flips it"
    return f"confidence high: no single input moved {spread} flips it"


def _way(v: Record) -> str:
    from selfhost.analysis import API_KIND_WORDS

    if v["choice_kind"] == "self_hosted":
        return f"self-host it on {v['choice']}"
    return f"use {v['choice']} ({API_KIND_WORDS[v['choice_kind']]})"


def _next_words(v: Record) -> str:
    from selfhost.analysis import API_KIND_WORDS

    if v["next_kind"] is None:
        return "the only option allowed"
    other = (
        "self-hosting"
        if v["next_kind"] == "self_hosted"
        else f"{v['next']} ({API_KIND_WORDS[v['next_kind']]})"
    )
    return f"saves {usd(v['next_costs_more_usd_per_month'])}/month against {other}"


def _flip_rate(v: Record) -> str:
    """The traffic at which the decision turns: the crossover against the cheapest API."""
    cross = v["crossover_rps"]
    if cross is None:
        return "no traffic level turns it: own GPUs never beat the cheapest API"
    if v["choice_kind"] == "self_hosted":
        return f"below {sig3(cross)} requests/s the API is cheaper"
    return f"above {sig3(cross)} requests/s own GPUs are cheaper"


def recommendation_items(data: ReviewData) -> list[str]:
    """The recommendation as a short list a finance reader acts on, one line per model: do what,
    at what monthly cost, saving how much against the next option, how sure, and what would
    flip it. Each line follows the model's verdict (`analysis.model_verdicts`), the figures of
    the crossover table; a licence that forbids production use is said, and such a model's
    own GPUs are never the recommendation."""
    verdicts = data.crossover.verdicts or []
    if not verdicts:
        return [
            "No comparison is possible with this selection: no deployment serves the workload within the "
            "latency targets, or no API is comparable. Widen --model/--gpu or pass --api."
        ]
    decisive = [
        r
        for v in verdicts
        for r in data.crossover.results
        if r["model"] == v["model"] and r["api"] == v["cheapest_api"]
    ]
    flips = _flips(data, decisive)
    spread = f"{data.spread:.0%}"
    items = []
    for v in verdicts:
        words = [f"{v['model']}: {_way(v)}", f"{usd(v['usd_per_month'])}/month", _next_words(v)]
        if not v["license_allows_production"]:
            words.append("its licence does not allow self-hosting in production without a separate agreement")
            items.append("; ".join(words) + ".")
            continue
        inputs = [i.split(" (")[0] for i in flips.get(v["model"], [])]
        words.append(_confidence(v, inputs, spread))
        flip = _flip_rate(v)
        if inputs and v.get("probability_self_hosted_cheaper") is not None:
            shown = inputs[:MAX_FLIP_INPUTS] + (["..."] if len(inputs) > MAX_FLIP_INPUTS else [])
            flip += f", or {', '.join(shown)} {spread} off"
        words.append(f"would flip: {flip}")
        items.append("; ".join(words) + ".")
    return items


MAX_FLIP_INPUTS = 3  # inputs named as able to flip a decision, the largest swings first


def recommendation(data: ReviewData) -> str:
    """The recommendation in one paragraph.

    Per model, the decisive comparison is against the cheapest API compared: self-host when the
    deployment costs less than that API at the rate, else keep the API until its crossover.
    Then the inputs that flip a decision within the sensitivity range, stale prices, and the
    capacity caveat.
    """
    records = data.crossover.results
    w = data.scenario.workload
    head = f"At {rate_words(data.scenario)} ({w.input_tokens:,} input + {w.output_tokens:,} output tokens per request)"
    if not records:
        return (
            f"{head} no comparison is possible with this selection: no deployment serves the workload "
            "within the latency targets, or no API is comparable. Widen --model/--gpu or pass --api."
        )
    wins: list[str] = []
    stays: list[str] = []
    barred: list[str] = []
    decisive: list[Record] = []
    for model in _models(records):
        mine = [r for r in records if r["model"] == model]
        cheapest = min(mine, key=lambda r: r["api_usd_per_month"])
        decisive.append(cheapest)
        self_usd = cheapest["self_hosted_usd_per_month"]
        p_self = cheapest.get("probability_self_hosted_cheaper")
        if self_usd < cheapest["api_usd_per_month"] and not cheapest["license_allows_production"]:
            barred.append(
                f"{model} would cost {usd(self_usd)}/month self-hosted against {usd(cheapest['api_usd_per_month'])} "
                f"for {cheapest['api']}, but its licence does not allow production use without a separate agreement"
            )
        elif self_usd < cheapest["api_usd_per_month"]:
            text = (
                f"self-host {model} on {deployment_words(cheapest)} at {usd(self_usd)}/month against "
                f"{usd(cheapest['api_usd_per_month'])} for {cheapest['api']}, the cheapest API compared"
            )
            if p_self is not None:
                text += f" (cheaper in {probability(p_self)} of the uncertainty samples)"
            wins.append(text)
        else:
            text = (
                f"keep {model} on {cheapest['api']} at {usd(cheapest['api_usd_per_month'])}/month against "
                f"{usd(self_usd)} self-hosted"
            )
            cross = cheapest["crossover_rps"]
            multiple = cheapest.get("crossover_multiple_of_mean")
            if cross is None:
                text += " at any traffic"
            elif multiple is not None:
                text += f" until its mean rate passes {sig3(cross)} requests/s ({sig3(multiple)}x today's profile)"
            else:
                text += f" until traffic passes {sig3(cross)} requests/s"
            if p_self is not None and p_self >= 0.05:
                text += f" (self-hosting is cheaper in {probability(p_self)} of the uncertainty samples)"
            stays.append(text)
    n = len(decisive)
    sentences = []
    if wins:
        sentences.append(f"{head}, self-hosting wins for {len(wins)} of {n} models: " + "; ".join(wins) + ".")
        if stays:
            sentences.append("For the others the API stays cheaper: " + "; ".join(stays) + ".")
    elif stays:
        sentences.append(
            f"{head}, the APIs stay cheaper for every model allowed in production: " + "; ".join(stays) + "."
        )
    else:
        sentences.append(f"{head}, no model may be self-hosted in production under its licence.")
    if barred:
        sentences.append("Not counted: " + "; ".join(barred) + ".")
    flips = _flips(data, decisive)
    spread = f"{data.spread:.0%}"
    if flips:
        sentences.append(
            f"Moving one input {spread} either way flips the decision for "
            + "; ".join(
                f"{model} ({', '.join(i.split(' (')[0] for i in inputs)})" for model, inputs in flips.items()
            )
            + (", so treat it as open." if len(flips) == 1 else ", so treat those as open.")
        )
    elif data.sensitivity.results:
        sentences.append(f"No single input moved {spread} either way flips any of these decisions.")
    stale = data.crossover.assumptions.get("stale_prices") or []
    if stale:
        sentences.append(f"{_stale_words(len(stale), data.stale_days)}; refresh before deciding.")
    sentences.append(
        "Self-hosted capacity is a roofline estimate, not a measurement: benchmark the chosen deployment "
        "before committing."
    )
    return " ".join(sentences)


def rate_words(scenario: Scenario) -> str:
    """'5 requests/s', or with a profile 'a mean of 5 requests/s (business-hours-chat.yaml, ...)'."""
    t = scenario.traffic
    if t is None:
        return f"{scenario.rate:g} requests/s"
    return (
        f"a mean of {scenario.rate:g} requests/s (traffic profile {t.file.name}, peak {t.peak_rps:.3g}; "
        f"replicas {t.words()})"
    )


def _traffic_rows(scenario: Scenario) -> list[tuple[str, str]]:
    t = scenario.traffic
    if t is None:
        return []
    rows = [
        ("Traffic profile", f"{t.file}" + (" (synthetic)" if t.synthetic else "")),
        ("Profile hours [h]", f"{len(t.hourly_rps)}"),
        ("Peak hour [requests/s]", f"{t.peak_rps:.3g} ({t.peak_rps / t.mean_rps:.2g}x the mean)"),
        ("Provisioning", t.words()),
    ]
    return rows


def _idle_paragraph(records: Sequence[Record]) -> Paragraph:
    """How much of each chosen deployment's bill is idle capacity, with a traffic profile."""
    seen = dict.fromkeys(
        (r["model"], deployment_words(r), r["idle_share"], r["provisioning"])
        for r in records
        if "idle_share" in r
    )
    parts = [
        f"{model} on {where} ({how}): {percent_words(share)} of the self-hosted bill is idle capacity"
        for model, where, share, how in seen
    ]
    return Paragraph(
        "The self-hosted bill follows the profile's hours; the API is billed on the same requests. "
        + "; ".join(parts)
        + ". The crossover is the mean rate of the profile scaled as a whole (docs/traffic-cost.md)."
    )


def percent_words(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def _workload_table(data: ReviewData) -> Table:
    w, ca = data.scenario.workload, data.scenario.priced
    rate_label = "Mean request rate [requests/s]" if data.scenario.traffic else "Request rate [requests/s]"
    rows = [
        (rate_label, f"{data.scenario.rate:g}"),
        *_traffic_rows(data.scenario),
        ("Input tokens per request [tokens]", f"{w.input_tokens:,}"),
        ("Output tokens per request [tokens]", f"{w.output_tokens:,}"),
        ("Context that must fit [tokens]", f"{w.context_tokens:,}"),
        ("Time per output token, at most [ms]", f"{w.max_tpot_ms:g}"),
        ("Time to first token, at most [ms]", f"{w.max_ttft_ms:g}"),
        ("KV-cache dtype", w.kv_dtype),
        ("Operations cost [USD/month]", usd(ca.ops_usd_per_month)),
        ("Target utilization [unitless]", f"{ca.target_utilization:g}"),
        ("Replicas always on [count]", f"{ca.min_replicas}"),
        ("Billed hours [h/month]", f"{ca.hours_per_month:g}"),
        ("API input billed at the cached price [unitless]", f"{ca.cached_input_fraction:g}"),
        ("GPU pricing kinds", ", ".join(ca.pricing)),
        ("GPU providers", ", ".join(ca.providers) or "all"),
        ("One-off setup [USD]", usd(ca.setup_usd)),
    ]
    return _table("workload", [("Input", "l"), ("Value", "r")], rows)


def sustained_words(scenario: Scenario) -> str:
    """'5 requests/s sustained', or the profile's mean and shape."""
    return rate_words(scenario) if scenario.traffic else f"{scenario.rate:g} requests/s sustained"


def _costs_table(records: Sequence[Record], *, mean: bool = False) -> Table:
    columns = [
        ("Model", "l"),
        ("Self-hosted on", "l"),
        ("Self-hosted $/month", "r"),
        ("API", "l"),
        ("API $/month", "r"),
        ("Saving $/month", "r"),
        ("Self-hosted $/1M tokens", "r"),
        ("API $/1M tokens", "r"),
        ("Cheaper", "l"),
        ("Crossover mean req/s" if mean else "Crossover req/s", "r"),
    ]
    rows = [
        (
            r["model"],
            deployment_words(r),
            usd(r["self_hosted_usd_per_month"]),
            r["api"],
            usd(r["api_usd_per_month"]),
            usd(r["saving_usd_per_month"]),
            usd_mtok(r["self_hosted_usd_per_mtok"]),
            usd_mtok(r["api_usd_per_mtok"]),
            r["cheaper"],
            never_or(sig3)(r["crossover_rps"]),
        )
        for r in records
    ]
    return _table("costs", columns, rows)


def _fit_table(data: ReviewData) -> Table:
    capacity = {
        (r["model"], r["quant"], r["gpu"], r["gpus_per_replica"], r["layout"], r["engine"]): r
        for r in data.crossover.results
    }
    columns = [
        ("Model", "l"),
        ("Quantization", "l"),
        ("GPUs per replica", "r"),
        ("Layout", "l"),
        ("GPU", "l"),
        ("Engine", "l"),
        ("Weights GB", "r"),
        ("Usable GB", "r"),
        ("KV capacity tokens", "r"),
        (f"Sequences at {data.scenario.workload.context_tokens:,} tokens", "r"),
        ("Req/s per replica (est.)", "r"),
        ("Limited by", "l"),
        ("Licence allows production", "l"),
    ]
    rows = []
    for f in data.fit.results:
        c = capacity.get(
            (f["model"], f["quant"], f["gpu"], f["gpus_per_replica"], f["layout"], f["engine"]), {}
        )
        rows.append(
            (
                f["model"],
                f["quant"],
                num0(f["gpus_per_replica"]),
                f["layout"],
                f["gpu"],
                f["engine"],
                num1(f["weights_gb"]),
                num1(f["usable_memory_gb"]),
                num0(f["kv_capacity_tokens"]),
                num0(f["max_concurrent_sequences"]),
                num2(c.get("capacity_rps_per_replica")),
                c.get("capacity_limit", "-"),
                "yes" if f["license_allows_production"] else "no",
            )
        )
    return _table("fit", columns, rows)


def _sensitivity_table(data: ReviewData) -> Table:
    records = data.sensitivity.results
    bars = tornado_bars(
        records,
        "saving_usd_per_month_base",
        "saving_usd_per_month_low",
        "saving_usd_per_month_high",
        lambda r: (r["model"], r["api"]),
    )
    labels = {i.key: i.short for i in INPUTS}
    s = f"{data.spread:.0%}"
    columns = [
        ("Model", "l"),
        ("API", "l"),
        ("Input", "l"),
        (f"Value -{s} → +{s}", "r"),
        ("Crossover req/s", "r"),
        ("Saving $/month", "r"),
        ("Swing $/month", "r"),
        ("Saving: ░ -range █ +range", "l"),
    ]
    rows = [
        (
            r["model"],
            r["api"],
            labels[r["input"]],
            _arrow(sig3, r["low_value"], r["high_value"]),
            _arrow(never_or(sig3), r["crossover_rps_low"], r["crossover_rps_high"]),
            _arrow(usd, r["saving_usd_per_month_low"], r["saving_usd_per_month_high"]),
            usd(r["swing_usd_per_month"]),
            Mono(bar),
        )
        for r, bar in zip(records, bars, strict=True)
    ]
    return _table("sensitivity", columns, rows)


def _uncertainty_table(records: Sequence[Record]) -> Table:
    bands = (  # (header, record key, format): one column of P10 / P50 / P90 each
        ("Crossover req/s", "crossover_rps", never_or(sig3)),
        ("Self-hosted $/month", "self_hosted_usd_per_month", usd),
        ("API $/month", "api_usd_per_month", usd),
        ("Saving $/month", "saving_usd_per_month", usd),
    )
    columns = [
        ("Model", "l"),
        ("API", "l"),
        *((f"{header} P10 / P50 / P90", "r") for header, _, _ in bands),
        ("P(self-hosted cheaper)", "r"),
        ("P(no crossover)", "r"),
    ]
    rows = [
        (
            r["model"],
            r["api"],
            *(_band(r, key, fmt) for _, key, fmt in bands),
            probability(r["probability_self_hosted_cheaper"]),
            probability(r["probability_no_crossover"]),
        )
        for r in records
    ]
    return _table("uncertainty", columns, rows)


def _changes_table(changes: Report) -> Table:
    columns = [
        ("Model", "l"),
        ("API", "l"),
        ("Status", "l"),
        ("Crossover req/s", "r"),
        ("Self-hosted $/month", "r"),
        ("API $/month", "r"),
        ("Saving change $/month", "r"),
        ("What changed", "l"),
    ]
    rows = []
    for r in changes.results:
        api = (
            r["api"]
            if r["api_old"] in (None, r["api_new"]) or r["api_new"] is None
            else f"{r['api_old']} → {r['api_new']}"
        )
        rows.append(
            (
                r["model"],
                api,
                r["status"],
                _arrow(never_or(sig3), r["crossover_rps_old"], r["crossover_rps_new"]),
                _arrow(usd, r["self_hosted_usd_per_month_old"], r["self_hosted_usd_per_month_new"]),
                _arrow(usd, r["api_usd_per_month_old"], r["api_usd_per_month_new"]),
                usd(r["saving_usd_per_month_change"]),
                "\n".join(cause_text(c) for c in r["causes"]) or "-",
            )
        )
    return _table("changes", columns, rows)


def _figures(kind: str, e: Entry) -> str:
    """The figures of a catalog entry that the costs depend on, in words with units."""
    g = e.model_dump()
    if kind == "model":
        return (
            f"{g['params_total_b']:g}B parameters ({g['params_active_b']:g}B active), "
            f"max context {g['max_context_tokens']:,} tokens, licence {g['license']}"
        )
    if kind == "quant":
        return (
            f"{g['linear_bits_per_weight']:g} bits/weight (linear layers), computes in {g['compute_dtype']}"
        )
    if kind == "gpu":
        return (
            f"{g['memory_gb']:g} GB ({g['device_memory_gb']:g} GB reported), {g['memory_bandwidth_gb_s']:,.0f} GB/s, "
            f"{g['bf16_tflops']:g} TFLOP/s BF16"
        )
    if kind == "engine":
        return (
            f"MBU {g['memory_bandwidth_utilization']:g}, MFU {g['compute_utilization']:g}, step overhead "
            f"{g['step_overhead_s'] * 1000:g} ms, batch cap {g['max_batch_sequences']}"
        )
    if kind == "offer":
        return (
            f"${g['usd_per_gpu_hour']:.2f}/GPU-h {g['pricing']} from {g['provider']}, "
            f"{g['instance_gpus']}-GPU instances"
        )
    if kind == "owned":
        return (
            f"${g['usd_per_gpu']:,.0f} per GPU over {g['amortization_months']:g} months, {g['watts_per_gpu']:g} W "
            f"at ${g['usd_per_kwh']:g}/kWh, hosting ${g['hosting_usd_per_gpu_month']:g}/GPU-month"
        )
    cached = g.get("usd_per_mtok_cached_input")
    return (
        f"${g['usd_per_mtok_input']:g}/1M input, ${g['usd_per_mtok_output']:g}/1M output"
        + (f", ${cached:g}/1M cached input" if cached is not None else "")
        + f" ({g['provider']})"
    )


def used_entries(catalog: Catalog, records: Sequence[Record]) -> list[tuple[str, Entry]]:
    """(kind, entry) of every catalog entry the comparisons used: prices and APIs first."""
    sections: dict[str, dict[str, Entry]] = {
        "offer": dict(by_id(catalog.rental_offers)),
        "owned": dict(by_id(catalog.purchase_options)),
        "api": dict(by_id(catalog.apis)),
        "model": dict(by_id(catalog.models)),
        "quant": dict(by_id(catalog.quantizations)),
        "gpu": dict(by_id(catalog.gpus)),
        "engine": dict(by_id(catalog.engines)),
    }
    keys: dict[tuple[str, str], None] = {}
    for kind, key in (
        ("offer", "price_option"),
        ("owned", "price_option"),
        ("api", "api"),
        ("model", "model"),
        ("quant", "quant"),
        ("gpu", "gpu"),
        ("engine", "engine"),
    ):
        for r in records:
            if r.get(key) in sections[kind]:
                keys.setdefault((kind, r[key]), None)
    return [(kind, sections[kind][entry_id]) for kind, entry_id in keys]


def _entries_table(data: ReviewData) -> Table:
    columns = [("Entry", "l"), ("Figures", "l"), ("As of", "l"), ("Confirmed", "l"), ("Source", "l")]
    rows = [
        (f"{kind}:{e.id}", _figures(kind, e), e.as_of.isoformat(), "yes" if e.confirmed else "no", e.source)
        for kind, e in used_entries(data.catalog, data.crossover.results)
    ]
    return _table("entries", columns, rows)


def _stale_table(stale: Sequence[Record]) -> Table:
    columns = [
        ("Price", "l"),
        ("Kind", "l"),
        ("Provider", "l"),
        ("Item", "l"),
        ("As of", "l"),
        ("Age days", "r"),
    ]
    rows = [(s["id"], s["kind"], s["provider"], s["item"], s["as_of"], num0(s["age_days"])) for s in stale]
    return _table("stale", columns, rows)


def _uncertainty_words(data: ReviewData) -> str:
    u = data.crossover.assumptions.get("uncertainty", {})
    ranges = "; ".join(
        f"{r['gpu_price_draw']} ${r['low_usd_per_gpu_hour']:.2f}-${r['high_usd_per_gpu_hour']:.2f}/GPU-h"
        for r in u.get("gpu_price_ranges", [])
    )
    return (
        f"{data.scenario.samples:,} Monte Carlo samples (seed {data.scenario.seed}). GPU prices are drawn uniformly between the "
        f"lowest and highest offer of the same GPU and pricing kind across the catalog's providers "
        f"({ranges or 'none'}); API prices within +-{u.get('api_price_spread', 0):.0%}; engine efficiency "
        f"(MBU and MFU) lognormal with sigma {u.get('efficiency_sigma', 0):g}, "
        f"{u.get('efficiency_sigma_extrapolated', u.get('efficiency_sigma', 0)):g} on a GPU without "
        f"measurements behind the engine profile; the sigmas' source: "
        f"{u.get('efficiency_sigma_source', 'docs/method.md')}. Utilization, operations cost, token mix "
        "and rate are held fixed (the sensitivity section moves them). A crossover of 'never' counts as "
        "infinite."
    )


def document(data: ReviewData, *, chart_svg: str | None, chart_note: str = "") -> list[Block]:
    """The review as blocks, in reading order; ``chart_svg`` is the drawn chart, if any."""
    records = data.crossover.results
    w = data.scenario.workload
    models = _models(records)
    apis = list(dict.fromkeys(r["api"] for r in records))
    blocks: list[Block] = [
        Heading(f"Self-host or API? Budget review, {data.generated.isoformat()}", 1, "top"),
        Paragraph(
            f"Written by selfhost {__version__} on {data.generated.isoformat()}. Every figure comes from the "
            "commands under Reproduce, with the same options; costs are exact arithmetic on the catalog, "
            "replica capacity is a roofline estimate (docs/method.md)."
        ),
        Heading("The question", 2, "question"),
        Paragraph(
            f"Is it cheaper to serve {_join(models) or 'the selected models'} on our own GPUs than to pay "
            f"{_join(apis) or 'an API'}, at {sustained_words(data.scenario)}, each request {w.input_tokens:,} input "
            f"and {w.output_tokens:,} output tokens, with at most {w.max_tpot_ms:g} ms per output token and "
            f"{w.max_ttft_ms:g} ms to the first token?"
        ),
        _workload_table(data),
        Heading("Recommendation", 2, "recommendation"),
        Paragraph(
            f"At {data.scenario.rate:g} requests/s, per model, the cheapest way to its quality (own GPUs, "
            "the same model from an API provider, or the cheapest proprietary API of its tier):"
        ),
        Bullets(tuple(recommendation_items(data))),
        Paragraph(
            "Roofline estimates, not measurements, size the own-GPU options: benchmark the chosen "
            "deployment before committing."
        ),
        Heading("Detail for the engineers", 3, "recommendation-detail"),
        Paragraph(recommendation(data)),
        Heading(
            f"Costs at {'a mean of ' if data.scenario.traffic else ''}{data.scenario.rate:g} requests/s",
            2,
            "costs",
        ),
        Paragraph(
            "Per model, the cheapest deployment that serves the rate within the latency targets, against the "
            "cheapest API hosting the same model and the cheapest proprietary API of its quality tier. "
            f"{NOTATION}. The crossover is the rate above which self-hosting that deployment stays "
            "cheaper ('never': at no rate)."
        ),
        _costs_table(records, mean=data.scenario.traffic is not None),
    ]
    if data.crossover.verdict:
        blocks.append(Paragraph(data.crossover.verdict))
    if data.scenario.traffic is not None:
        blocks += [
            _idle_paragraph(records),
            Heading("Left out with a traffic profile", 2, "sustained-only"),
            Paragraph(
                "The chart of cost against rate, the sensitivity tornado and the P10/P50/P90 band model a "
                "sustained request rate; with a traffic profile they are not computed. Run them on the "
                "profile's mean (--rps) for the sustained-rate view."
            ),
        ]
        return blocks + _closing_blocks(data)
    assert data.chart is not None  # computed for every sustained-rate review
    header, rows = chart_table(data.chart)
    fallback = _table("chart-table", [(h, "l" if i < 2 else "r") for i, h in enumerate(header)], rows)
    blocks += [
        Heading("Monthly cost against request rate", 2, "chart"),
        Paragraph(
            "Step functions: the self-hosted deployments (the one compared above, and the cheapest on other "
            "GPU types), which add a billing unit each time traffic outgrows the last. Straight lines: the APIs. "
            "Circles: the crossovers. The dotted line is the rate compared at."
        ),
        ChartBlock(svg=chart_svg, alt=CHART_ALT, fallback=fallback, note=chart_note),
        _table(
            "crossovers",
            [("Model", "l"), ("API", "l"), ("Crossover", "r")],
            [(p.model, c.api, crossover_words(c)) for p in data.chart.panels for c in p.crossovers],
        ),
        *_fit_blocks(data),
        Heading("Sensitivity: which input moves the saving most", 2, "sensitivity"),
        Paragraph(
            f"Each input moved {data.spread:.0%} down and up, one at a time, with the deployment held at the "
            "base case's cheapest; largest swing of the monthly saving first. "
            + (data.sensitivity.verdict or "")
        ),
        _sensitivity_table(data),
        Heading("Uncertainty: P10 / P50 / P90", 2, "uncertainty"),
    ]
    if data.scenario.samples:
        blocks += [Paragraph(_uncertainty_words(data)), _uncertainty_table(records)]
    else:
        blocks.append(Paragraph("Not computed (--uncertainty 0)."))
    return blocks + _closing_blocks(data, fit=False)


def _fit_blocks(data: ReviewData) -> list[Block]:
    w = data.scenario.workload
    return [
        Heading("Does it fit?", 2, "fit"),
        Paragraph(
            f"Memory of each chosen deployment at a context of {w.context_tokens:,} tokens, and the request rate "
            "one replica sustains within the latency targets."
        ),
        _fit_table(data),
    ]


def _calibration_blocks(data: ReviewData) -> list[Block]:
    """The user calibrations the comparisons used (`selfhost calibrate`), or nothing."""
    found = data.crossover.assumptions.get("user_calibrations") or []
    if not found:
        return []
    items = tuple(
        f"{c['engine']} on {c['gpu']}: "
        + ", ".join(f"{_CALIBRATED.get(k, k)} {v:g}" for k, v in c["fields"].items())
        + f" fitted to {c['points']} point(s); {c['source']}"
        for c in found
    )
    return [
        Paragraph(
            "A user calibration is in use: on these GPUs the engine's efficiencies are fitted to your own "
            "measurements (selfhost calibrate), not the catalog's published ones."
        ),
        Bullets(items),
    ]


_CALIBRATED = {
    "memory_bandwidth_utilization": "MBU",
    "compute_utilization": "MFU",
    "step_overhead_s": "step overhead [s]",
}


def _closing_blocks(data: ReviewData, *, fit: bool = True) -> list[Block]:
    """Fit (unless shown already), stale prices, changes, sources, notes and the commands."""
    blocks: list[Block] = _fit_blocks(data) if fit else []
    stale = data.crossover.assumptions.get("stale_prices") or []
    blocks.append(Heading("Stale prices", 2, "stale"))
    if stale:
        blocks += [
            Paragraph(
                f"{_stale_words(len(stale), data.stale_days)}. Check them, and pass --catalog with newer ones "
                "(selfhost catalog stale lists every stale price in the catalog)."
            ),
            _stale_table(stale),
        ]
    else:
        blocks.append(Paragraph(f"No price used is older than {data.stale_days} days."))
    if data.changes is not None:
        blocks += [
            Heading("What changed since the last review", 2, "changes"),
            Paragraph(data.changes.verdict or ""),
            _changes_table(data.changes),
        ]
    blocks += [
        Heading("Assumptions, sources and dates", 2, "assumptions"),
        Paragraph(
            "Every catalog entry the comparisons above used, with the figures the costs depend on, the date "
            "they apply to and where they come from. Defaults and their reasons: docs/method.md section 5."
        ),
        _entries_table(data),
        *_calibration_blocks(data),
        Heading("Notes", 2, "notes"),
        Bullets(
            tuple(
                dict.fromkeys(
                    [
                        *data.crossover.notes,
                        *data.sensitivity.notes,
                        *(data.changes.notes if data.changes else []),
                    ]
                )
            )
        ),
    ]
    if data.commands:
        blocks += [Heading("Reproduce", 2, "reproduce"), Code("\n".join(data.commands))]
    return blocks


# --------------------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    """A table cell: every character shown as written (selfhost.escape), lines joined by <br>."""
    if isinstance(text, Mono):
        return md_code(text, in_table=True)
    return "<br>".join(md_cell(line) for line in text.split("\n"))


def _md_table(t: Table) -> list[str]:
    align = t.align or tuple("l" for _ in t.headers)
    lines = [
        "| " + " | ".join(_md_cell(h) for h in t.headers) + " |",
        "|" + "|".join("---:" if a == "r" else ":---" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    return lines


def _md_destination(name: str) -> str:
    """A file name as a link destination in angle brackets (spaces and parentheses allowed)."""
    return urllib.parse.quote(name, safe="/._-~")


def to_markdown(blocks: Sequence[Block], *, chart_file: str | None) -> str:
    """The blocks as GitHub-flavoured Markdown; the chart links ``chart_file`` (written beside it).

    Every block's text is plain text (catalog names, sources and notes among it) and is escaped
    for Markdown here (selfhost.escape), as `to_html` escapes it for HTML: nothing in the
    catalog becomes markup, a link or a table column.
    """
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + md_text(b.text))
        elif isinstance(b, Paragraph):
            out.append(md_text(b.text))
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {md_text(item)}" for item in b.items))
        elif isinstance(b, Code):
            out.append(md_fence(b.text, "bash"))
        elif isinstance(b, Table):
            out.append("\n".join(_md_table(b)))
        elif b.svg is not None and chart_file is not None:
            out.append(f"![{md_text(b.alt)}]({_md_destination(chart_file)})")
        else:
            out.append(
                "\n".join([*_md_table(b.fallback), "", f"*{md_text(b.note)}*" if b.note else ""]).rstrip()
            )
    return "\n\n".join(out) + "\n"


# --------------------------------------------------------------------------- HTML

HTML_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 78rem; margin: 2rem auto;
       padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8rem 0 1.4rem; font-size: 0.88rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.25rem 0.5rem; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.r { text-align: right; white-space: nowrap; }
code, pre { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
td code { white-space: pre; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
p.note { font-style: italic; color: #555; }
"""


def _html_cell(text: str, tag: str, align: str) -> str:
    body = html.escape(text).replace("\n", "<br>")
    if isinstance(text, Mono):
        body = f"<code>{body}</code>"
    cls = ' class="r"' if align == "r" and tag == "td" else ""
    return f"<{tag}{cls}>{body}</{tag}>"


def _html_table(t: Table) -> str:
    align = t.align or tuple("l" for _ in t.headers)
    head = "".join(_html_cell(h, "th", a) for h, a in zip(t.headers, align, strict=True))
    body = "\n".join(
        "<tr>" + "".join(_html_cell(c, "td", a) for c, a in zip(row, align, strict=True)) + "</tr>"
        for row in t.rows
    )
    return f'<table id="{html.escape(t.id)}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def to_html(blocks: Sequence[Block], *, title: str) -> str:
    """The blocks as one self-contained HTML page; the chart's SVG is inlined."""
    from selfhost.chart import inline_svg

    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
            out.append(f"<h{b.level}{anchor}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Paragraph):
            out.append(f"<p>{html.escape(b.text)}</p>")
        elif isinstance(b, Bullets):
            out.append("<ul>\n" + "\n".join(f"<li>{html.escape(i)}</li>" for i in b.items) + "\n</ul>")
        elif isinstance(b, Code):
            out.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
        elif isinstance(b, Table):
            out.append(_html_table(b))
        elif b.svg is not None:
            out.append(
                f'<figure id="chart-figure" role="img" aria-label="{html.escape(b.alt)}">\n{inline_svg(b.svg)}\n'
                f"<figcaption>{html.escape(b.alt)}</figcaption>\n</figure>"
            )
        else:
            note = f'<p class="note">{html.escape(b.note)}</p>' if b.note else ""
            out.append(_html_table(b.fallback) + "\n" + note)
    body = "\n".join(out)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
