"""The questions the commands ask, answered as plain records.

Each question function takes the catalog and a `Scenario` (every assumption of the question),
unpacks it once, calls the engine on whole arrays, and returns a `Report`: result records
(flat dicts, units in the keys, raw numbers), the scenario echoed whole in the assumptions
with the catalog ids and dates used, notes for stderr, and an optional verdict. `fit` and
`estimate` take replica configs and a workload: they answer for given deployments. The CLI
renders reports; it does no arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from selfhost.apis import request_usd, serves_context
from selfhost.engine import cost, crossover, memory, throughput
from selfhost.question import CostAssumptions as CostAssumptions
from selfhost.render import deployment_words
from selfhost.scenarios import (
    ConfigTable,
    PriceOption,
    ReplicaConfig,
    Workload,
    build_arrays,
    capacity_within_targets,
    price_options,
)
from selfhost.selection import select_configs, selected_apis
from selfhost.units import BYTES_PER_GB

if TYPE_CHECKING:
    from selfhost.catalog.schema import ApiOffering, Catalog, Model
    from selfhost.question import Scenario

Record = dict[str, Any]

FIT_REASONS = {
    memory.FITS: "fits",
    memory.WEIGHTS_TOO_LARGE: "weights exceed usable memory",
    memory.CONTEXT_TOO_LARGE: "weights fit, but the KV cache cannot hold one full-context sequence",
}
LIMIT_WORDS = {
    throughput.LIMIT_NONE: "none",
    throughput.LIMIT_KV: "kv-cache memory",
    throughput.LIMIT_ENGINE: "engine batch cap",
    throughput.LIMIT_LATENCY: "latency target",
}
THROUGHPUT_NOTE = (
    "throughput and latency are roofline estimates with engine efficiencies from the catalog "
    "(see docs/method.md); measure before you commit"
)


@dataclass
class Report:
    """What a command prints: records, echoed assumptions, stderr notes, a verdict line."""

    results: list[Record]
    assumptions: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    verdict: str | None = None
    verdicts: list[Record] | None = None  # per model (crossover): see `model_verdicts`
    summary: dict[str, Any] | None = None  # the answer in brief (fit: the smallest and the cheapest that fit)

    def document(self) -> dict[str, Any]:
        """The JSON document: ``{"results": [...], "assumptions": {...}}`` (+ verdict, verdicts)."""
        doc: dict[str, Any] = {"results": self.results, "assumptions": self.assumptions}
        if self.verdict is not None:
            doc["verdict"] = self.verdict
        if self.verdicts is not None:
            doc["verdicts"] = self.verdicts
        if self.summary is not None:
            doc["summary"] = self.summary
        return doc


def _number(x: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None."""
    value = float(x)
    return value if math.isfinite(value) else None


def config_record(c: ReplicaConfig) -> Record:
    """Which deployment a record is about: model, quant, GPU, split and engine ids, and its evidence."""
    return {
        "model": c.model.id,
        "quant": c.quant.id,
        "gpu": c.gpu.id,
        "gpus_per_replica": c.n_gpus,
        "layout": c.layout,
        "engine": c.engine.id,
        **evidence_fields(c),
    }


def evidence_fields(c: ReplicaConfig) -> Record:
    """How far a deployment's throughput estimate is from published measurements (docs/accuracy.md)."""
    return {
        "engine_confirmed": c.engine.confirmed,
        "gpu_measured": c.gpu_measured,
        "layout_measured": c.layout_measured,
    }


MAX_LISTED = 4  # engine-GPU pairs (or engine layouts) the evidence note names before "and N more"


def evidence_note(records: Iterable[Record]) -> str | None:
    """Which deployments among ``records`` rest on no published measurement, or None when all do.

    An engine profile with ``confirmed: false`` was not fitted to that engine (it takes the pooled
    fit of the measured engines); a GPU outside the profile's ``measured_gpus`` had no measurement
    in that fit, so its throughput is extrapolated through the roofline alone; so is that of a
    layout kind outside the profile's ``measured_layouts`` (pipeline stages, data-parallel
    attention). Records without a deployment (API rows) are skipped.
    """
    shown = [r for r in records if "gpu_measured" in r]
    unmeasured = list(dict.fromkeys(f"{r['engine']} on {r['gpu']}" for r in shown if not r["gpu_measured"]))
    layouts = list(
        dict.fromkeys(f"{r['engine']} {r['layout']}" for r in shown if not r.get("layout_measured", True))
    )
    pooled = list(dict.fromkeys(r["engine"] for r in shown if not r["engine_confirmed"]))
    parts = []
    for names, what in (
        (unmeasured, "a GPU"),
        (layouts, "a layout"),
    ):
        if names:
            more = len(names) - MAX_LISTED
            listed = ", ".join(names[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")
            parts.append(
                f"throughput extrapolated to {what} with no published measurement behind the engine profile: "
                f"{listed}"
            )
    if pooled:
        parts.append(
            f"{', '.join(pooled)}: profile pooled from the measured engines, not fitted to "
            f"{'this engine' if len(pooled) == 1 else 'these engines'}"
        )
    if not parts:
        return None
    return (
        "; ".join(parts)
        + " (gpu_measured / layout_measured / engine_confirmed in JSON and CSV; see docs/accuracy.md)"
    )


def _with_evidence(notes: list[str], records: Iterable[Record]) -> list[str]:
    note = evidence_note(records)
    return [*notes, note] if note else notes


def workload_assumptions(w: Workload) -> dict[str, Any]:
    return {
        "input_tokens": w.input_tokens,
        "output_tokens": w.output_tokens,
        "context_tokens": w.context_tokens,
        "max_tpot_ms": w.max_tpot_ms,
        "max_ttft_ms": w.max_ttft_ms,
        "kv_dtype": w.kv_dtype,
    }


def entry_provenance(configs: Sequence[ReplicaConfig]) -> dict[str, dict[str, str]]:
    """Catalog ids used, with their as_of dates and sources, for the assumptions block."""
    table = ConfigTable.of(configs)
    entries = {}
    for kind in ("model", "quant", "gpu", "engine"):  # ReplicaConfig attribute names
        for entry in table.used(kind):
            entries[f"{kind}:{entry.id}"] = entry
    return {
        key: {"as_of": e.as_of.isoformat(), "source": e.source, "confirmed": str(e.confirmed).lower()}
        for key, e in entries.items()
    }


def api_provenance(catalog: Catalog, records: Sequence[Record]) -> dict[str, dict[str, str]]:
    """The APIs the records name, with their as_of dates and sources, for the assumptions block."""
    named = {r.get("api") for r in records}
    return {a.id: {"as_of": a.as_of.isoformat(), "source": a.source} for a in catalog.apis if a.id in named}


# --------------------------------------------------------------------------- fit


def fit(configs: Sequence[ReplicaConfig], workload: Workload) -> Report:
    """Does each config hold its weights plus one ``context_tokens`` sequence, and how many more."""
    _, mem = build_arrays(configs, workload.kv_dtype)
    context = float(workload.context_tokens)
    held = mem.sequence_kv_tokens(context)  # windowed layers keep at most their window
    verdict = memory.fit_verdict(mem.usable_bytes, mem.weight_bytes, mem.kv_capacity_tokens, held)
    max_seq = memory.max_concurrent_sequences(mem.kv_capacity_tokens, held)
    capacity_at_context = mem.capacity_tokens_at(context)
    results = []
    for i, c in enumerate(configs):
        too_long = workload.context_tokens > c.model.max_context_tokens
        fits = bool(verdict[i] == memory.FITS) and not too_long
        reason = (
            f"context {workload.context_tokens} exceeds the model's maximum {c.model.max_context_tokens}"
            if too_long
            else FIT_REASONS[int(verdict[i])]
        )
        results.append(
            {
                **config_record(c),
                "context_tokens": workload.context_tokens,
                "fits": fits,
                "reason": reason,
                "weights_gb": float(mem.weight_bytes[i]) / BYTES_PER_GB,
                "usable_memory_gb": float(mem.usable_bytes[i]) / BYTES_PER_GB,
                "kv_bytes_per_token": float(mem.kv_bytes_per_token_model[i]),
                "kv_bytes_per_token_replica": float(mem.kv_bytes_per_token[i]),
                "kv_capacity_tokens": int(capacity_at_context[i]),
                "max_concurrent_sequences": int(max_seq[i]),
                "license_allows_production": c.model.license_allows_production,
            }
        )
    assumptions = {
        "context_tokens": workload.context_tokens,
        "kv_dtype": workload.kv_dtype,
        "catalog_entries": entry_provenance(configs),
    }
    windowed = {c.model.id: c.model.architecture for c in configs if c.model.architecture.windowed_layers}
    notes = [
        f"{model}: {a.windowed_layers} of {a.num_hidden_layers} layers keep at most {a.attention_window_tokens:,} "
        "tokens of KV per sequence (sliding window or chunked attention); KV capacity is counted at the "
        "requested context, as vLLM reports its KV cache size"
        for model, a in windowed.items()
    ]
    return Report(results=results, assumptions=assumptions, notes=notes)


# --------------------------------------------------------------------------- estimate


#: ``estimate``'s default concurrency: one request alone, and the largest batch within the latency targets.
AUTO = "auto"
LOADS = {
    "one": "one request",
    "targets": "largest within targets",
    "max": "largest that fits",
    "given": "as given",
}


def estimate(configs: Sequence[ReplicaConfig], workload: Workload, concurrency: int | str | None) -> Report:
    """Throughput and latency at a concurrency: a number, None (the largest batch memory and the
    engine allow) or `AUTO` (two rows per config: one request alone, and the largest batch
    within the latency targets, the load a deployment is sized for). ``load`` says which."""
    serving, mem = build_arrays(configs, workload.kv_dtype)
    p, d = workload.input_tokens, workload.output_tokens
    kv_limit = memory.max_concurrent_sequences(mem.kv_capacity_tokens, mem.sequence_kv_tokens(p + d / 2.0))
    batch_cap = np.minimum(kv_limit, serving.max_batch_sequences)
    within = capacity_within_targets(serving, workload)
    if concurrency == AUTO:
        runs = [(np.ones(len(configs)), "one"), (np.asarray(within.batch, dtype=float), "targets")]
    elif concurrency is None:
        runs = [(batch_cap, "max")]
    else:
        runs = [(np.full(len(configs), float(concurrency)), "given")]
    points = [
        (batch, load, throughput.load_point(serving, np.maximum(batch, 1.0), p, d)) for batch, load in runs
    ]
    results = []
    notes = [THROUGHPUT_NOTE]
    for i, c in enumerate(configs):
        for batch, load, point in points:
            if load == "targets" and (batch[i] < 1 or batch[i] == 1):
                continue  # nothing within the targets, or one request is all they allow: the first row says it
            feasible = batch[i] >= 1 and batch[i] <= batch_cap[i]
            record = {
                **config_record(c),
                "input_tokens": p,
                "output_tokens": d,
                "load": LOADS[load],
                "concurrency": int(batch[i]),
                "feasible": bool(feasible),
                "max_concurrency": int(batch_cap[i]),
                "output_tokens_per_s": float(point.output_tokens_per_s[i]) if feasible else None,
                "output_tokens_per_s_per_sequence": float(point.output_tokens_per_s_per_sequence[i])
                if feasible
                else None,
                "ttft_s": float(point.ttft_s[i]) if feasible else None,
                "tpot_s": float(point.tpot_s[i]) if feasible else None,
                "requests_per_s": float(point.requests_per_s[i]) if feasible else None,
                "capacity_rps_per_replica": float(within.point.requests_per_s[i]),
                "concurrency_per_replica": int(within.batch[i]),
                "capacity_limit": LIMIT_WORDS[int(within.limit[i])],
                "estimate": True,
            }
            if not feasible:
                notes.append(
                    f"{c.label}: concurrency {int(batch[i])} does not fit (max {int(batch_cap[i])} at "
                    f"{p}+{d} tokens)"
                )
            results.append(record)
    assumptions = {
        **workload_assumptions(workload),
        "concurrency": "max" if concurrency is None else concurrency,
        "catalog_entries": entry_provenance(configs),
    }
    return Report(results=results, assumptions=assumptions, notes=_with_evidence(notes, results))


# --------------------------------------------------------------------------- costs


@dataclass(frozen=True, eq=False)  # of arrays: == of arrays has no truth value, so identity
class DeploymentGrid:
    """Replica configs x price options that can serve the workload, flattened to rows, shape (n,).

    Row i is config ``configs[config_index[i]]`` paid for with ``prices[price_index[i]]``.
    Configs that do not fit or miss the latency targets at any load get no rows; ``left_out``
    counts the (config, price) pairs dropped that way.
    """

    configs: Sequence[ReplicaConfig]
    prices: list[PriceOption]
    config_index: np.ndarray
    price_index: np.ndarray
    capacity: throughput.Capacity
    unit: cost.BillingUnit
    left_out: int

    def __len__(self) -> int:
        return len(self.config_index)

    def config(self, i: int) -> ReplicaConfig:
        return self.configs[int(self.config_index[i])]

    def price(self, i: int) -> PriceOption:
        return self.prices[int(self.price_index[i])]

    def unit_at(self, i: int) -> cost.BillingUnit:
        """The billing unit of row ``i`` alone (scalars where `unit` holds a row each)."""
        u = self.unit
        return cost.BillingUnit(
            gpus=u.gpus[i],
            replicas=u.replicas[i],
            usd_per_month=u.usd_per_month[i],
            rps=u.rps[i],
            min_units=u.min_units[i],
        )


def _price_table(
    catalog: Catalog, configs: Sequence[ReplicaConfig], ca: CostAssumptions, cheapest: bool = False
) -> tuple[list[PriceOption], dict[str, list[int]]]:
    """Every price option of the GPUs in use, and each GPU's option indices.

    ``cheapest``: per GPU, only the cheapest option of each instance size (the first listed on a
    tie). A billing unit's cost and capacity depend on the config, the instance size and the
    hourly rate alone, so for a question that keeps only the cheapest way to pay (`plan`) the
    others can never be chosen; dropping them keeps the work independent of how many offers
    the catalog lists (a thousand offers for one GPU are a handful of rows, not a thousand).
    """
    prices: list[PriceOption] = []
    by_gpu: dict[str, list[int]] = {}
    for gpu in ConfigTable.of(configs).used("gpu"):
        if gpu.id in by_gpu:
            continue
        options = price_options(
            catalog, gpu, pricing=ca.pricing, providers=ca.providers, hours_per_month=ca.hours_per_month
        )
        if cheapest:
            best: dict[int, PriceOption] = {}
            for option in options:
                kept = best.get(option.instance_gpus)
                if kept is None or option.usd_per_gpu_hour < kept.usd_per_gpu_hour:
                    best[option.instance_gpus] = option
            chosen = {id(o) for o in best.values()}
            options = [o for o in options if id(o) in chosen]  # catalog order kept
        by_gpu[gpu.id] = list(range(len(prices), len(prices) + len(options)))
        prices.extend(options)
    return prices, by_gpu


_NOTHING = np.zeros(0)
#: The capacity of no deployment (`capacity` needs at least one).
_NO_CAPACITY = throughput.Capacity(
    batch=_NOTHING,
    kv_batch_limit=_NOTHING,
    limit=np.zeros(0, dtype=np.int8),
    point=throughput.LoadPoint(_NOTHING, _NOTHING, _NOTHING, _NOTHING, _NOTHING),
)


def _take(serving: throughput.ServingArrays, rows: np.ndarray) -> throughput.ServingArrays:
    """The deployments ``rows`` of ``serving`` (a scalar field stays as it is)."""
    fields = {name: value[rows] if np.ndim(value) else value for name, value in vars(serving).items()}
    return throughput.ServingArrays(**fields)


def deployment_grid(
    catalog: Catalog,
    scenario: Scenario,
    *,
    configs: Sequence[ReplicaConfig] | None = None,
    workload: Workload | None = None,
    cheapest_prices: bool = False,
) -> DeploymentGrid:
    """Capacity of every config of the scenario's selection, crossed with every way to pay for its GPU.

    ``configs`` (default: ``select_configs(catalog, scenario)``) and ``workload`` (default: the
    scenario's) replace the scenario's where the caller has others (`sweep`'s token mixes).
    ``cheapest_prices``: only the ways to pay that can be cheapest (see `_price_table`).
    """
    configs = ConfigTable.of(select_configs(catalog, scenario) if configs is None else configs)
    workload = scenario.workload if workload is None else workload
    ca = scenario.priced
    serving, mem = build_arrays(configs, workload.kv_dtype)
    fits = memory.fit_verdict(
        mem.usable_bytes,
        mem.weight_bytes,
        mem.kv_capacity_tokens,
        mem.sequence_kv_tokens(workload.context_tokens),
    )
    takes_context = np.array(
        [workload.context_tokens <= m.max_context_tokens for m in configs.models], dtype=bool
    )
    context_ok = takes_context[configs.model]
    # capacity only where the model fits and takes the context (a quarter of the headline's
    # configs do not): `at` is each serving config's position among those candidates
    candidates = np.flatnonzero((fits == memory.FITS) & context_ok)
    cap = capacity_within_targets(_take(serving, candidates), workload) if len(candidates) else _NO_CAPACITY
    served = cap.point.requests_per_s > 0
    serving_configs = candidates[served]
    serves = np.zeros(len(configs), dtype=bool)
    serves[serving_configs] = True
    prices, by_gpu = _price_table(catalog, configs, ca, cheapest=cheapest_prices)
    # one row per (serving config, price option of its GPU), configs in order
    # each GPU's options are a run of consecutive indices into `prices` (`_price_table`)
    gpu_options = [by_gpu.get(g.id, []) for g in configs.gpus]  # a GPU no config uses has none
    gpu_first = np.array([options[0] if options else 0 for options in gpu_options], dtype=int)
    gpu_n_options = np.array([len(options) for options in gpu_options], dtype=int)
    n_options = gpu_n_options[configs.gpu]
    left_out = int(n_options[~serves].sum())
    rows_per_config = n_options[serving_configs]
    config_index = np.repeat(serving_configs, rows_per_config)
    at = np.repeat(np.flatnonzero(served), rows_per_config)
    # the k-th option of its config's GPU, k counted within each config's run of rows
    run_start = np.repeat(np.cumsum(rows_per_config) - rows_per_config, rows_per_config)
    price_index = gpu_first[configs.gpu[config_index]] + (np.arange(len(config_index)) - run_start)
    capacity_rps = cap.point.requests_per_s[at]
    unit = cost.billing_unit(
        capacity_rps=capacity_rps,
        target_utilization=ca.target_utilization,
        min_replicas=ca.min_replicas,
        gpus_per_replica=serving.n_gpus[config_index].astype(int),
        instance_gpus=np.array([p.instance_gpus for p in prices], dtype=int)[price_index],
        usd_per_gpu_hour=np.array([p.usd_per_gpu_hour for p in prices], dtype=float)[price_index],
        hours_per_month=ca.hours_per_month,
    )
    sub = throughput.Capacity(
        batch=cap.batch[at],
        kv_batch_limit=cap.kv_batch_limit[at],
        limit=cap.limit[at],
        point=throughput.LoadPoint(
            tpot_s=cap.point.tpot_s[at],
            ttft_s=cap.point.ttft_s[at],
            requests_per_s=capacity_rps,
            output_tokens_per_s=cap.point.output_tokens_per_s[at],
            output_tokens_per_s_per_sequence=cap.point.output_tokens_per_s_per_sequence[at],
        ),
    )
    return DeploymentGrid(
        configs=configs,
        prices=prices,
        config_index=config_index,
        price_index=price_index,
        capacity=sub,
        unit=unit,
        left_out=left_out,
    )


def _deployment_record(grid: DeploymentGrid, i: int, rps: float, self_usd: float, units: float) -> Record:
    c, o = grid.config(i), grid.price(i)
    return {
        **config_record(c),
        "price_option": o.id,
        "provider": o.provider,
        "pricing": o.pricing,
        "usd_per_gpu_hour": o.usd_per_gpu_hour,
        "price_as_of": o.as_of.isoformat(),
        "price_confirmed": o.confirmed,
        "capacity_rps_per_replica": float(grid.capacity.point.requests_per_s[i]),
        "concurrency_per_replica": int(grid.capacity.batch[i]),
        "capacity_limit": LIMIT_WORDS[int(grid.capacity.limit[i])],
        "gpus_billed": _number(units * grid.unit.gpus[i]),
        "self_hosted_usd_per_month": _number(self_usd),
        "license_allows_production": c.model.license_allows_production,
    }


def costs(
    catalog: Catalog, scenario: Scenario, *, grid: DeploymentGrid | None = None, rows: int = 0
) -> Report:
    """Monthly and per-token self-hosted cost of every deployment that serves the rate, cheapest first.

    ``grid`` is ``deployment_grid(catalog, scenario)`` when the caller has it already.
    ``rows``: the caller shows only the first ``rows`` records (0 = all); notes speak of those.
    """
    from selfhost.provisioning import self_hosted

    grid = grid if grid is not None else deployment_grid(catalog, scenario)
    workload, ca, rps = scenario.workload, scenario.priced, scenario.rate
    bill = self_hosted(grid, scenario)
    units, monthly = bill.units_peak, bill.usd_per_month
    per_mtok = cost.usd_per_mtok(
        monthly, rps, workload.input_tokens + workload.output_tokens, ca.hours_per_month
    )
    busiest = rps if scenario.traffic is None else scenario.traffic.peak_rps
    replicas = cost.replicas_needed(
        busiest, grid.capacity.point.requests_per_s, ca.target_utilization, ca.min_replicas
    )
    order = np.argsort(monthly, kind="stable")
    results = []
    for i in order:
        if not np.isfinite(monthly[i]):
            continue
        record = _deployment_record(grid, int(i), rps, float(monthly[i]), float(units[i]))
        record.update(
            {
                "rps": rps,
                "replicas": int(replicas[i]),
                "self_hosted_usd_per_mtok": _number(per_mtok[i]),
                **traffic_fields(scenario, bill, int(i)),
            }
        )
        results.append(record)
    notes = [THROUGHPUT_NOTE, *traffic_notes(scenario, grid)]
    dropped = grid.left_out + int(np.sum(~np.isfinite(monthly)))
    if dropped:
        notes.append(f"{dropped} deployment(s) left out: they do not fit or miss the latency targets")
    assumptions = {**scenario.assumptions(), "catalog_entries": entry_provenance(grid.configs)}
    shown = results[:rows] if rows else results  # what the caller displays
    return Report(results=results, assumptions=assumptions, notes=_with_evidence(notes, shown))


# --------------------------------------------------------------------------- crossover


def _api_groups(catalog: Catalog, model: Model, context_tokens: int) -> tuple[list[ApiOffering], ...]:
    """The live APIs that accept ``context_tokens``: (hosts of the same model, proprietary APIs of
    its quality tier), each in catalog order."""
    live = [a for a in catalog.apis if not a.deprecated and serves_context(a, context_tokens)]
    hosted = [a for a in live if a.equivalent_model == model.id]
    tier = [a for a in live if a.equivalent_model is None and a.quality_tier == model.quality_tier]
    return hosted, tier


def comparable_apis(catalog: Catalog, model: Model, context_tokens: int = 0) -> list[ApiOffering]:
    """Every API a model competes with: hosts of the same model, then proprietary APIs of its
    tier, among those that accept ``context_tokens``."""
    hosted, tier = _api_groups(catalog, model, context_tokens)
    return hosted + tier


def cheapest_comparable_apis(
    catalog: Catalog, model: Model, workload: Workload, cached_input_fraction: float
) -> list[ApiOffering]:
    """The cheapest of each group of `comparable_apis` for ``workload`` (its context accepted):
    price per request, as it is billed (output tokens often cost 4-8x input; cached input is
    cheaper where an API prices it). On a tie, the first in catalog order."""
    picked = []
    for group in _api_groups(catalog, model, workload.context_tokens):
        if group:
            per_request = request_usd(
                group, workload.input_tokens, workload.output_tokens, cached_input_fraction
            )
            picked.append(group[int(np.argmin(per_request))])
    return picked


CROSSOVER_WORDS = {
    crossover.NO_CAPACITY: "never: no deployment serves this workload within the latency targets",
    crossover.API_CHEAPER_AT_SCALE: (
        "never: even at the target utilization a GPU costs more than the API traffic it serves"
    ),
    crossover.API_FREE: "never: the API is free",
}


def crossover_report(catalog: Catalog, scenario: Scenario, *, grid: DeploymentGrid | None = None) -> Report:
    """For each model: its cheapest deployment at the rate against comparable APIs, with the crossover.

    ``grid`` is ``deployment_grid(catalog, scenario)`` when the caller has it already (or one of
    an old catalog's configs, for a baseline).
    """
    from selfhost.provisioning import crossover_of, self_hosted

    grid = grid if grid is not None else deployment_grid(catalog, scenario)
    configs, workload, ca, rps = grid.configs, scenario.workload, scenario.priced, scenario.rate
    apis = selected_apis(catalog, scenario)
    all_apis = scenario.selection.all_apis
    bill = self_hosted(grid, scenario)
    monthly, units = bill.usd_per_month, bill.units_peak
    tokens = workload.input_tokens + workload.output_tokens
    results: list[Record] = []
    notes = [THROUGHPUT_NOTE, *traffic_notes(scenario, grid)]
    for a in apis or []:
        if not serves_context(a, workload.context_tokens):
            notes.append(
                f"{a.id} accepts at most {a.context_tokens:,} tokens, this workload needs "
                f"{workload.context_tokens:,}: it is priced as if it could serve it"
            )
    table = ConfigTable.of(configs)
    model_by_id = {m.id: m for m in table.used("model")}
    models = list(model_by_id)
    model_position = {model_id: k for k, model_id in enumerate(models)}
    config_model = np.array([model_position[m.id] for m in table.models], dtype=int)[table.model]
    row_model = config_model[grid.config_index] if len(grid) else np.zeros(0, dtype=int)
    # each model's rows, in row order: a stable sort by model, then the run of each model
    by_model = np.argsort(row_model, kind="stable")
    model_bounds = np.searchsorted(row_model[by_model], np.arange(len(models) + 1))
    costed = np.isfinite(monthly)
    for k, model_id in enumerate(models):
        model = model_by_id[model_id]
        rows = by_model[model_bounds[k] : model_bounds[k + 1]]
        candidates = rows[costed[rows]]
        if apis is not None:
            model_apis = list(apis)
        elif all_apis:
            model_apis = comparable_apis(catalog, model, workload.context_tokens)
        else:
            model_apis = cheapest_comparable_apis(catalog, model, workload, ca.cached_input_fraction)
        if not model_apis:
            too_short = apis is None and comparable_apis(catalog, model)
            reason = f" accepts {workload.context_tokens:,} tokens of context" if too_short else ""
            notes.append(f"{model_id}: no comparable API in the catalog{reason}; pass --api")
            continue
        if candidates.size == 0:
            if workload.context_tokens > model.max_context_tokens:
                why = f"context {workload.context_tokens:,} exceeds the model's maximum {model.max_context_tokens:,}"
            else:
                why = (
                    f"no deployment in the selection fits and meets the latency targets at "
                    f"{workload.input_tokens}+{workload.output_tokens} tokens"
                )
            notes.append(f"{model_id}: {why}")
            continue
        # cheapest at this rate; on a tie, the one billing fewer GPUs (then the first)
        cheapest = candidates[monthly[candidates] == monthly[candidates].min()]
        best = int(cheapest[np.argmin(grid.unit.gpus[cheapest])])
        per_request = request_usd(
            model_apis, workload.input_tokens, workload.output_tokens, ca.cached_input_fraction
        )
        api_monthly = cost.api_usd_per_month(rps, per_request, ca.hours_per_month)
        cross = crossover_of(
            grid.unit_at(best), scenario, per_request, owned=grid.price(best).pricing == "owned"
        )
        saving = api_monthly - monthly[best]
        payback = cost.payback_months(ca.setup_usd, saving)
        self_mtok = cost.usd_per_mtok(monthly[best], rps, tokens, ca.hours_per_month)
        api_mtok = cost.usd_per_mtok(api_monthly, rps, tokens, ca.hours_per_month)
        replicas = cost.replicas_needed(
            rps if scenario.traffic is None else scenario.traffic.peak_rps,
            grid.capacity.point.requests_per_s[best],
            ca.target_utilization,
            ca.min_replicas,
        )
        for j, api in enumerate(model_apis):
            record = _deployment_record(grid, best, rps, float(monthly[best]), float(units[best]))
            record.update(
                {
                    "rps": rps,
                    "replicas": int(replicas),
                    "api": api.id,
                    "api_provider": api.provider,
                    "api_model": api.api_model,
                    "api_kind": api_kind(api, model),
                    "api_usd_per_mtok_input": api.usd_per_mtok_input,
                    "api_usd_per_mtok_output": api.usd_per_mtok_output,
                    "api_price_as_of": api.as_of.isoformat(),
                    "api_usd_per_month": float(api_monthly[j]),
                    "saving_usd_per_month": float(saving[j]),
                    "self_hosted_usd_per_mtok": _number(self_mtok),
                    "api_usd_per_mtok": _number(api_mtok[j]),
                    "cheaper": "self-hosted" if saving[j] > 0 else "api",
                    "crossover_rps": _number(cross.rps[j]),
                    "crossover_note": "crosses"
                    if cross.reason[j] == crossover.CROSSES
                    else CROSSOVER_WORDS[int(cross.reason[j])],
                    "payback_months": _number(payback[j]),
                    **traffic_fields(scenario, bill, best),
                }
            )
            if scenario.traffic is not None:
                record["crossover_multiple_of_mean"] = _number(cross.multiple_of_mean[j])
            results.append(record)
        if not model.license_allows_production:
            notes.append(
                f"{model_id}: licence {model.license} does not allow production use without a separate agreement"
            )
    assumptions = {
        **scenario.assumptions(),
        "catalog_entries": entry_provenance(configs),
        "apis": api_provenance(catalog, results),
    }
    verdicts = model_verdicts(results)
    return Report(
        results=results,
        assumptions=assumptions,
        notes=_with_evidence(notes, results),
        verdict=crossover_verdict(verdicts, rps, load_words(scenario)),
        verdicts=verdicts,
    )


def _usd(x: float) -> str:
    return f"${x:,.0f}"


def load_words(scenario: Scenario) -> str:
    """'5 req/s', or with a profile 'a mean of 5 req/s (peak 14.5, fixed for the peak)'."""
    t = scenario.traffic
    if t is None:
        return f"{scenario.rate:g} req/s"
    return f"a mean of {scenario.rate:g} req/s (peak {t.peak_rps:.3g}, {t.words()})"


def traffic_fields(scenario: Scenario, bill: Any, i: int) -> Record:
    """With a traffic profile, what the record's self-hosted bill rests on; nothing without one."""
    t = scenario.traffic
    if t is None:
        return {}
    return {
        "traffic_profile": str(t.file),
        "profile_mean_rps": t.mean_rps,
        "profile_peak_rps": t.peak_rps,
        "provisioning": "autoscaled" if bool(bill.autoscaled[i]) else "fixed",
        "billing_hours": t.billing_hours if bool(bill.autoscaled[i]) else None,
        "replicas_peak": _number(bill.replicas_peak[i]),
        "replicas_mean": _number(bill.replicas_mean[i]),
        "gpu_hours_per_month": _number(bill.gpu_hours_per_month[i]),
        "idle_usd_per_month": _number(bill.idle_usd_per_month[i]),
        "idle_share": _number(bill.idle_share[i]),
    }


def traffic_notes(scenario: Scenario, grid: DeploymentGrid) -> list[str]:
    """What a traffic profile changes in the reading of the figures."""
    t = scenario.traffic
    if t is None:
        return []
    from selfhost.provisioning import OWNED_NOTE

    notes = [
        f"traffic profile {t.file}: {len(t.hourly_rps)} hourly rates, mean {t.mean_rps:.3g} req/s, peak "
        f"{t.peak_rps:.3g} ({t.peak_rps / t.mean_rps:.2g}x the mean); self-hosted replicas {t.words()}; the API "
        "is billed on the same requests. The crossover is the mean rate of the profile scaled as a whole "
        "(crossover_multiple_of_mean in JSON); idle_share is the part of the self-hosted bill paying for "
        "capacity no request used (docs/traffic-cost.md)"
    ]
    if t.synthetic:
        notes.append(f"{t.file} is a synthetic profile: made up, not measured")
    if t.autoscaled and any(grid.price(i).pricing == "owned" for i in range(len(grid))):
        notes.append(OWNED_NOTE)
    return notes


SAME_MODEL, TIER, OTHER_MODEL = "same_model", "tier", "other_model"
#: How an API stands to the model it is compared with, in words.
API_KIND_WORDS = {
    SAME_MODEL: "the same model, hosted",
    TIER: "a proprietary API of its tier",
    OTHER_MODEL: "another model's API",
}
SELF_HOSTED = "self_hosted"


def api_kind(api: ApiOffering, model: Model) -> str:
    """'same_model' (a host of these weights), 'tier' (a proprietary API of the model's quality
    tier) or 'other_model' (an API of another open model, chosen with --api)."""
    if api.equivalent_model == model.id:
        return SAME_MODEL
    return TIER if api.equivalent_model is None else OTHER_MODEL


def model_verdicts(results: Sequence[Record]) -> list[Record]:
    """Per model: the cheapest way to get its quality, what it costs, and what the next option costs more.

    The options are the model's cheapest self-hosted deployment and every API it was compared
    with (crossover records, one per API). Self-hosting a model whose licence does not allow
    production use is not an option for the verdict (it stays in ``options``, marked
    ``allowed: false``). Each option carries ``usd_per_month_over_choice`` (how much more it
    costs a month than the choice; negative for a disallowed option that would be cheaper) and,
    for an API, the crossover rate of the self-hosted deployment against it.

    ``crossover_rps`` is the crossover against the cheapest API compared: an API's bill is
    proportional to the rate, so the cheapest API at this rate is the cheapest at every rate,
    and above ``crossover_rps`` the model's own GPUs are its cheapest way (None: never).
    """
    verdicts: list[Record] = []
    for model_id in dict.fromkeys(r["model"] for r in results):
        rows = [r for r in results if r["model"] == model_id]
        allowed = bool(rows[0]["license_allows_production"])
        options: list[Record] = [
            {
                "kind": SELF_HOSTED,
                "option": deployment_words(rows[0]),
                "usd_per_month": rows[0]["self_hosted_usd_per_month"],
                "allowed": allowed,
                "crossover_rps": None,
            }
        ]
        options += [
            {
                "kind": r.get("api_kind", TIER),
                "option": r["api"],
                "usd_per_month": r["api_usd_per_month"],
                "allowed": True,
                "crossover_rps": r["crossover_rps"],
            }
            for r in rows
        ]
        ranked = sorted((o for o in options if o["allowed"]), key=lambda o: o["usd_per_month"])
        choice = ranked[0]
        runner_up = ranked[1] if len(ranked) > 1 else None
        for o in options:
            o["usd_per_month_over_choice"] = o["usd_per_month"] - choice["usd_per_month"]
        cheapest_api = min(rows, key=lambda r: r["api_usd_per_month"])
        verdict = {
            "model": model_id,
            "rps": rows[0]["rps"],
            "license_allows_production": allowed,
            "choice_kind": choice["kind"],
            "choice": choice["option"],
            "usd_per_month": choice["usd_per_month"],
            "next_kind": runner_up["kind"] if runner_up else None,
            "next": runner_up["option"] if runner_up else None,
            "next_usd_per_month": runner_up["usd_per_month"] if runner_up else None,
            "next_costs_more_usd_per_month": (
                runner_up["usd_per_month"] - choice["usd_per_month"] if runner_up else None
            ),
            "self_hosted": options[0]["option"],
            "self_hosted_usd_per_month": options[0]["usd_per_month"],
            "cheapest_api": cheapest_api["api"],
            "cheapest_api_kind": cheapest_api.get("api_kind", TIER),
            "cheapest_api_usd_per_month": cheapest_api["api_usd_per_month"],
            "crossover_rps": cheapest_api["crossover_rps"],
            "options": options,
        }
        if "probability_self_hosted_cheaper" in cheapest_api:
            verdict["probability_self_hosted_cheaper"] = cheapest_api["probability_self_hosted_cheaper"]
        verdicts.append(verdict)
    return verdicts


KIND_SHORT = {
    SELF_HOSTED: "own GPUs",
    SAME_MODEL: "the same model hosted",
    TIER: "the tier's proprietary API",
    OTHER_MODEL: "another model's API",
}


def crossover_verdict(verdicts: Sequence[Record], rps: float, load: str | None = None) -> str:
    """The summary of `model_verdicts`: how many models each way is cheapest for, the largest
    saving from self-hosting against the next option, and the models whose licence rules
    self-hosting out (never the headline). ``load`` words the rate (a traffic profile's mean)."""
    load = load or f"{rps:g} req/s"
    if not verdicts:
        return f"No comparison possible at {load} with this selection."
    counts: dict[str, list[str]] = {}
    for v in verdicts:
        counts.setdefault(v["choice_kind"], []).append(v["model"])
    n = len(verdicts)
    parts: list[str] = []
    for kind in (SELF_HOSTED, SAME_MODEL, TIER, OTHER_MODEL):
        models = counts.get(kind, [])
        if models:
            who = f" ({', '.join(models)})" if kind == SELF_HOSTED else ""
            of = f" of {n} model{'' if n == 1 else 's'}" if not parts else ""
            parts.append(f"{KIND_SHORT[kind]} for {len(models)}{of}{who}")
    head = f"At {load} the cheapest way to each model's quality: " + ", ".join(parts) + "."
    wins = [v for v in verdicts if v["choice_kind"] == SELF_HOSTED and v["next"] is not None]
    sentences = [head]
    if wins:
        best = max(wins, key=lambda v: v["next_costs_more_usd_per_month"])
        sentences.append(
            f"Largest saving from self-hosting: {best['model']}, {_usd(best['usd_per_month'])}/month, "
            f"{_usd(best['next_costs_more_usd_per_month'])}/month less than the next option ({best['next']})."
        )
    else:
        near = [v for v in verdicts if v["crossover_rps"] is not None and v["license_allows_production"]]
        if near:
            closest = min(near, key=lambda v: v["crossover_rps"])
            sentences.append(
                f"Self-hosting is the cheapest for none; the nearest is {closest['model']}, above "
                f"{closest['crossover_rps']:.3g} req/s (against {closest['cheapest_api']})."
            )
    barred = [v["model"] for v in verdicts if not v["license_allows_production"]]
    if barred:
        sentences.append(
            f"Not self-hostable in production without a separate agreement (licence): {', '.join(barred)}."
        )
    return " ".join(sentences)


def smallest_fitting(records: Sequence[Record]) -> list[Record]:
    """Per (GPU, quantization, engine), the fit record with the fewest GPUs that fits.

    Where no count fits, the largest count tried, so the table still says why not.
    """
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for r in records:
        groups.setdefault((r["gpu"], r["quant"], r["engine"]), []).append(r)
    chosen = []
    for group in groups.values():
        ordered = sorted(group, key=lambda r: r["gpus_per_replica"])
        fitting = [r for r in ordered if r["fits"]]
        chosen.append(fitting[0] if fitting else ordered[-1])
    return chosen
