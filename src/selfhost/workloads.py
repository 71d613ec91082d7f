"""The workloads file of `selfhost plan`: schema, loader, and catalog look-ups.

A workloads file is a YAML mapping with one key, ``workloads``, holding a list of entries::

    workloads:
      - name: support-chat
        requests_per_s: 8
        input_tokens: 1200
        output_tokens: 300
        model: llama-3.3-70b          # or: quality_tier: strong
        privacy_sensitive: false
        max_tpot_ms: 100               # optional; default --max-tpot-ms
        max_ttft_ms: 3000              # optional; default --max-ttft-ms
        apis: [openai-gpt-5-mini]      # optional; default: every comparable API
        traffic_profile: chat.yaml     # optional: its hourly shape (and tokens), relative to this file

Every problem is collected, so one `InputError` names the file and each bad location
(``<file>: workloads[2] (name 'chat').max_tpot_ms: ...``), as the catalog loader does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, cast

import pydantic
from pydantic import ConfigDict, Field, model_validator

from selfhost.apis import serves_context
from selfhost.catalog.loader import _kind_of, _yaml_error
from selfhost.catalog.lookup import did_you_mean, normalize
from selfhost.catalog.schema import ApiOffering, Catalog, Entry, Model, QualityTier
from selfhost.errors import InputError
from selfhost.field_errors import field_message, field_path
from selfhost.limits import MAX_RATE_RPS, MAX_TOKENS
from selfhost.schema_types import Flag, Positive, PositiveInt, TextChecked

#: Quality tiers from lowest to highest; a workload accepts its tier or any higher one.
TIER_ORDER: tuple[str, ...] = ("small", "mid", "strong", "frontier")
#: Models kept only to test the throughput model; never proposed for a quality-tier workload.
CALIBRATION_TAG = "calibration"

#: Tokens of a request or context, strict and in range (selfhost.limits). [tokens]
Tokens = Annotated[PositiveInt, Field(le=MAX_TOKENS)]


class WorkloadSpec(TextChecked):
    """One workload: its traffic, its request shape, what quality it needs and where it may run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, description="Unique name, used in the plan's output.")
    description: str = Field(default="", description="Free text for the reader of the plan.")
    requests_per_s: Annotated[Positive, Field(le=MAX_RATE_RPS)] | None = Field(
        default=None,
        description="Sustained (with traffic_profile: mean) request rate; default the profile's mean. [requests/s]",
    )
    input_tokens: Tokens | None = Field(
        default=None, description="Mean prompt length per request; default the profile's mean. [tokens]"
    )
    output_tokens: Tokens | None = Field(
        default=None, description="Mean completion length per request; default the profile's mean. [tokens]"
    )
    traffic_profile: str | None = Field(
        default=None,
        min_length=1,
        description="Traffic-profile file (selfhost workload -o), relative to the workloads file: the "
        "workload's hourly shape, scaled to requests_per_s if given, and its token means.",
    )
    context_tokens: Tokens | None = Field(
        default=None,
        description="Longest sequence one request may reach; must fit. Default input + output. [tokens]",
    )
    model: str | None = Field(
        default=None, description="Catalog model id to self-host; APIs hosting it are also compared."
    )
    quality_tier: QualityTier | None = Field(
        default=None,
        description="Least quality tier: any production-licensed model or API of this tier or above.",
    )
    privacy_sensitive: Flag = Field(
        default=False, description="True: the data may not leave your infrastructure, so no API."
    )
    max_tpot_ms: Positive | None = Field(
        default=None, description="Time-per-output-token target; default --max-tpot-ms. [ms]"
    )
    max_ttft_ms: Positive | None = Field(
        default=None, description="Time-to-first-token target; default --max-ttft-ms. [ms]"
    )
    apis: tuple[str, ...] | None = Field(
        default=None,
        description="API offering ids this workload may use (empty list: none). Default: every comparable API.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> WorkloadSpec:
        if (self.model is None) == (self.quality_tier is None):
            raise ValueError("give exactly one of 'model' (a catalog id) or 'quality_tier'")
        if self.traffic_profile is None:
            missing = [name for name in SUSTAINED_FIELDS if getattr(self, name) is None]
            if missing:
                raise ValueError(f"give {', '.join(missing)} (or a traffic_profile that sets them)")
        if self.privacy_sensitive and self.apis:
            raise ValueError(
                "a privacy_sensitive workload may not use an API; remove 'apis' or set privacy_sensitive: false"
            )
        if (
            self.context_tokens is not None
            and self.input_tokens is not None
            and self.output_tokens is not None
            and self.context_tokens < self.input_tokens + self.output_tokens
        ):
            raise ValueError(
                f"context_tokens {self.context_tokens} is shorter than one request "
                f"({self.input_tokens} input + {self.output_tokens} output tokens)"
            )
        return self


def _unknown_field(error: Any) -> str:
    """The closest valid field name (by spelling, else one that contains the key), or all of them."""
    import difflib

    valid = list(WorkloadSpec.model_fields)
    key = str(error["loc"][-1])
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6) or [
        v for v in valid if len(key) >= 3 and key in v
    ]
    if close:
        return f"unknown field; did you mean '{close[0]}'?"
    return f"unknown field; valid fields are: {', '.join(valid)}"


SUSTAINED_FIELDS = ("requests_per_s", "input_tokens", "output_tokens")


def _missing_without_profile(item: dict[str, Any], error: Any) -> list[str]:
    """The rate and token fields an entry without a traffic_profile leaves out, if ``error`` is that."""
    if tuple(error["loc"]) or "traffic_profile" in item:
        return []
    if not str(error["msg"]).startswith("Value error, give "):
        return []
    return [name for name in SUSTAINED_FIELDS if item.get(name) is None]


def _summary(path: Path, errors: Sequence[str]) -> str:
    noun = "error" if len(errors) == 1 else "errors"
    return f"workloads file {path} has {len(errors)} {noun}:\n" + "\n".join(f"  {e}" for e in errors)


def _where(path: Path, index: int, name: object) -> str:
    named = f" (name '{name}')" if isinstance(name, str) else ""
    return f"{path}: workloads[{index}]{named}"


def read_workloads(path: str | Path) -> list[WorkloadSpec]:
    """Validated workloads of one file, in file order.

    Raises:
        InputError: the file cannot be read, is not valid YAML, or has entries that do not match
            the schema or repeat a name; the message lists every problem with its location.
    """
    from selfhost.inputs import decode, load_yaml, read_bytes

    p = Path(path)
    text = decode(read_bytes(p, "workloads file"), "workloads file", p)  # bounded; regular files only
    try:
        document = load_yaml(text)  # the safe C loader, after the depth and alias guard
    except Exception as exc:  # yaml.YAMLError, or ValueError for a value that cannot be built
        raise InputError(_summary(p, [_yaml_error(p, exc)])) from None
    if not isinstance(document, dict) or set(document) != {"workloads"}:
        got = (
            f"a mapping with keys {', '.join(map(str, document))}"
            if isinstance(document, dict)
            else (f"a {_kind_of(document)}")
        )
        raise InputError(
            f"{p}: the top level must be a mapping with one key, 'workloads', holding a list of "
            f"entries; got {got}"
        )
    items = document["workloads"]
    if not isinstance(items, list) or not items:
        raise InputError(
            f"{p}: 'workloads' must be a non-empty list of entries (each starting with '- '), "
            f"got {'an empty list' if items == [] else 'a ' + _kind_of(items)}"
        )
    errors: list[str] = []
    result: list[WorkloadSpec] = []
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else None
        where = _where(p, index, name)
        if not isinstance(item, dict):
            errors.append(
                f"{where}: an entry must be a mapping of field names to values, got a {_kind_of(item)}"
            )
            continue
        if isinstance(name, str) and name in first:
            errors.append(f"{where}.name: duplicate name; first used at workloads[{first[name]}]")
            continue
        if isinstance(name, str):
            first[name] = index
        try:
            spec = WorkloadSpec.model_validate(item)
        except pydantic.ValidationError as exc:
            for error in exc.errors():
                absent = _missing_without_profile(item, error)
                if absent:  # said as pydantic says a missing field, at each field
                    errors += [f"{where}.{name}: required field is missing" for name in absent]
                    continue
                errors.append(f"{where}{field_path(error['loc'])}: {field_message(error, _unknown_field)}")
            continue
        if spec.traffic_profile is not None:
            try:
                spec = with_profile(spec, profile_path(p, spec))
            except InputError as exc:
                errors.append(f"{where}.traffic_profile: {exc}")
                continue
        result.append(spec)
    if errors:
        raise InputError(_summary(p, errors))
    return result


def profile_path(workloads_file: Path, spec: WorkloadSpec) -> Path:
    """A workload's traffic-profile file: absolute, or relative to the workloads file."""
    assert spec.traffic_profile is not None
    given = Path(spec.traffic_profile)
    return given if given.is_absolute() else workloads_file.parent / given


def with_profile(spec: WorkloadSpec, path: Path) -> WorkloadSpec:
    """``spec`` with the rate and tokens its profile sets where the entry leaves them out.

    Raises:
        InputError: the profile cannot be read, or lacks a token mean the entry does not give,
            or the context is shorter than one request.
    """
    from selfhost.traffic_profile import read_profile

    profile = read_profile(path)
    update: dict[str, Any] = {}
    if spec.requests_per_s is None:
        update["requests_per_s"] = (
            profile.hourly_rps[0] if len(set(profile.hourly_rps)) == 1 else profile.mean_rps
        )
    for name, stats in (("input_tokens", profile.tokens.input), ("output_tokens", profile.tokens.output)):
        if getattr(spec, name) is None:
            if stats is None:
                raise InputError(f"'{path}' records no {name.split('_')[0]} tokens: give {name} in the entry")
            update[name] = max(1, round(stats.mean))
    filled = spec.model_copy(update=update)
    assert filled.input_tokens is not None and filled.output_tokens is not None
    if (
        filled.context_tokens is not None
        and filled.context_tokens < filled.input_tokens + filled.output_tokens
    ):
        raise InputError(
            f"context_tokens {filled.context_tokens} is shorter than one request of the profile "
            f"({filled.input_tokens} input + {filled.output_tokens} output tokens)"
        )
    return filled


def hourly_rates(workloads_file: Path, spec: WorkloadSpec) -> tuple[float, ...] | None:
    """The workload's hourly rates, its profile scaled to its mean rate; None without a profile. [requests/s]"""
    if spec.traffic_profile is None:
        return None
    from selfhost.traffic_profile import read_profile

    rates = read_profile(profile_path(workloads_file, spec)).hourly_rps
    assert spec.requests_per_s is not None
    if len(set(rates)) == 1:
        return (spec.requests_per_s,) * len(rates)
    mean = math.fsum(rates) / len(rates)
    return tuple(r * (spec.requests_per_s / mean) for r in rates)


# --------------------------------------------------------------------------- catalog look-ups


@dataclass(frozen=True)
class ResolvedWorkload:
    """A workload with its catalog candidates looked up and its defaults filled in.

    models : Models it may be self-hosted on (empty: it can only use an API).
    apis : APIs it could use (empty: none); a privacy-sensitive workload never does, the list
        only prices the all-API baseline.
    max_tpot_ms, max_ttft_ms : Its latency targets. [ms]
    context_tokens : Longest sequence that must fit. [tokens]
    hourly_rps : Its traffic profile's hourly rates scaled to its mean rate, or None: a
        sustained rate. [requests/s]
    """

    spec: WorkloadSpec
    models: tuple[Model, ...]
    apis: tuple[ApiOffering, ...]
    max_tpot_ms: float
    max_ttft_ms: float
    context_tokens: int
    hourly_rps: tuple[float, ...] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def rps(self) -> float:
        """Its (mean) request rate, from the entry or its profile. [requests/s]"""
        assert self.spec.requests_per_s is not None  # read_workloads fills it from the profile
        return self.spec.requests_per_s

    @property
    def input_tokens(self) -> int:
        assert self.spec.input_tokens is not None
        return self.spec.input_tokens

    @property
    def output_tokens(self) -> int:
        assert self.spec.output_tokens is not None
        return self.spec.output_tokens


def tier_rank(tier: str) -> int:
    """Position of a quality tier, 0 = small ... 3 = frontier."""
    return TIER_ORDER.index(tier)


def _lookup(entries: Sequence[Entry], query: str) -> Entry | None:
    key = normalize(query)
    for entry in entries:
        if normalize(entry.id) == key or any(normalize(a) == key for a in entry.aliases):
            return entry
    return None


def candidate_models(catalog: Catalog, spec: WorkloadSpec, model: Model | None) -> tuple[Model, ...]:
    """The named model, or every production-licensed, non-calibration model of the tier or above."""
    if model is not None:
        return (model,)
    assert spec.quality_tier is not None
    least = tier_rank(spec.quality_tier)
    return tuple(
        m
        for m in catalog.models
        if tier_rank(m.quality_tier) >= least
        and m.license_allows_production
        and CALIBRATION_TAG not in m.tags
    )


def candidate_apis(catalog: Catalog, spec: WorkloadSpec, model: Model | None) -> tuple[ApiOffering, ...]:
    """APIs a workload may use when the file does not list them.

    Named model: the APIs hosting it, and proprietary APIs of its tier or above. Quality tier:
    every API of that tier or above, hosted open models included. Deprecated APIs never, nor
    APIs that do not accept the workload's context.
    A privacy-sensitive workload gets the same list: the plan never sends it to one, but the
    all-API baseline shows what they would charge.
    """
    context = spec.context_tokens or (spec.input_tokens or 1) + (spec.output_tokens or 1)
    live = [a for a in catalog.apis if not a.deprecated and serves_context(a, context)]
    if model is not None:
        least = tier_rank(model.quality_tier)
        return tuple(
            a
            for a in live
            if a.equivalent_model == model.id
            or (a.equivalent_model is None and tier_rank(a.quality_tier) >= least)
        )
    assert spec.quality_tier is not None
    least = tier_rank(spec.quality_tier)
    return tuple(a for a in live if tier_rank(a.quality_tier) >= least)


def resolve_workloads(
    specs: Sequence[WorkloadSpec],
    catalog: Catalog,
    *,
    path: str | Path = "workloads",
    default_max_tpot_ms: float,
    default_max_ttft_ms: float,
) -> list[ResolvedWorkload]:
    """Look up each workload's model and APIs (ids or aliases) and fill in default targets.

    Raises:
        InputError: an id is not in the catalog (each listed, with close matches), or a
            workload has neither a model nor an API it may use.
    """
    p = Path(str(path))
    errors: list[str] = []
    resolved: list[ResolvedWorkload] = []
    for index, spec in enumerate(specs):
        where = _where(p, index, spec.name)
        model: Model | None = None
        if spec.model is not None:
            found = _lookup(catalog.models, spec.model)
            if found is None:
                errors.append(
                    f"{where}.model: unknown model '{spec.model}';{did_you_mean(catalog.models, spec.model)} "
                    "run 'selfhost catalog list models' to see all, or add it with --catalog"
                )
                continue
            model = cast(Model, found)  # from catalog.models
        if spec.apis is None:
            apis = candidate_apis(catalog, spec, model)
        else:
            listed: list[ApiOffering] = []
            for j, query in enumerate(spec.apis):
                api = _lookup(catalog.apis, query)
                if api is None:
                    errors.append(
                        f"{where}.apis[{j}]: unknown API '{query}';{did_you_mean(catalog.apis, query)} "
                        "run 'selfhost catalog list apis' to see all, or add it with --catalog"
                    )
                    continue
                if api not in listed:
                    listed.append(cast(ApiOffering, api))  # from catalog.apis
            apis = tuple(listed)
        models = candidate_models(catalog, spec, model)
        if not models and not apis:
            errors.append(
                f"{where}: no production-licensed model of tier '{spec.quality_tier}' or above in the "
                "catalog, and no API allowed; name a model or list APIs"
            )
            continue
        resolved.append(
            ResolvedWorkload(
                spec=spec,
                models=models,
                apis=apis,
                max_tpot_ms=spec.max_tpot_ms if spec.max_tpot_ms is not None else default_max_tpot_ms,
                max_ttft_ms=spec.max_ttft_ms if spec.max_ttft_ms is not None else default_max_ttft_ms,
                context_tokens=spec.context_tokens
                if spec.context_tokens is not None
                else (spec.input_tokens or 1) + (spec.output_tokens or 1),
                hourly_rps=hourly_rates(p, spec),
            )
        )
    if errors:
        raise InputError(_summary(p, errors))
    return resolved
