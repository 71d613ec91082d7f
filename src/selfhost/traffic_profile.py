"""The traffic-profile file: a workload's request rate by hour of the week (or day) and its tokens.

A profile is a YAML mapping with one key, ``traffic_profile``::

    traffic_profile:
      description: business-hours chat assistant
      utc_offset_hours: 0          # the hours below are local time at this offset from UTC
      hourly_rps: [0.4, 0.3, ...]  # 168 values, Monday 00:00 first (or 24: one day) [requests/s]
      tokens:                      # per request [tokens]
        input: {mean: 812.0, p50: 640.0, p95: 2100.0}
        output: {mean: 240.0, p50: 200.0, p95: 610.0}
        cached_input: {mean: 300.0}  # the part of input served from a prompt cache; omit if unknown
      source:
        file: usage.jsonl
        format: litellm-spend-logs
        first: '2025-01-06T00:00:00+00:00'
        last: '2025-01-20T00:00:00+00:00'
        hours_observed: 336
        requests: 1234567
        synthetic: false
        notes: []

``hourly_rps[h]`` is the mean arrival rate during hour ``h`` of a typical week (Monday 00:00-01:00
is h = 0, Sunday 23:00-24:00 is h = 167), or of a typical day with 24 values. The profile's
mean rate is the mean of the values (each hour weighs the same). ``selfhost workload FILE -o
profile.yaml`` writes one from usage logs; docs/traffic-profile.md describes the format.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import ConfigDict, Field, field_validator

from selfhost.errors import InputError
from selfhost.inputs import read_yaml
from selfhost.limits import MAX_RATE_RPS
from selfhost.schema_types import Flag, NonNegative, NonNegativeInt, TextChecked

HOURS_PER_DAY = 24
HOURS_PER_WEEK = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOP_KEY = "traffic_profile"

#: A rate of one hour (strict and in range: selfhost.limits). [requests/s]
HourlyRate = Annotated[NonNegative, Field(le=MAX_RATE_RPS)]


class TokenStats(TextChecked):
    """Tokens per request: the mean and, where per-request data was read, p50 and p95. [tokens]"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mean: NonNegative
    p50: NonNegative | None = None
    p95: NonNegative | None = None


class ProfileTokens(TextChecked):
    """Per-request token statistics; a missing entry is unknown (the source did not record it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: TokenStats | None = Field(
        default=None, description="Prompt tokens, cached ones included. [tokens]"
    )
    output: TokenStats | None = Field(default=None, description="Completion tokens. [tokens]")
    cached_input: TokenStats | None = Field(
        default=None, description="Prompt tokens served from a prompt cache (part of input). [tokens]"
    )


class ProfileSource(TextChecked):
    """Where the profile came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file: str = Field(
        min_length=1, description="The usage file read (or the script that made a synthetic one)."
    )
    format: str = Field(
        min_length=1, description="How it was read: openai-usage-json, litellm-spend-logs, ..."
    )
    first: str = Field(default="", description="Start of the first hour counted (ISO 8601).")
    last: str = Field(default="", description="End of the last hour counted (ISO 8601).")
    hours_observed: NonNegativeInt = Field(default=0, description="Calendar hours averaged. [h]")
    requests: NonNegativeInt = Field(default=0, description="Requests counted. [count]")
    synthetic: Flag = Field(default=False, description="True for a made-up profile (examples/traffic).")
    notes: tuple[str, ...] = ()


class TrafficProfile(TextChecked):
    """A workload's hourly request rate over a typical week (168 values) or day (24) and its tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    utc_offset_hours: Annotated[float, Field(strict=True, allow_inf_nan=False)] = Field(
        default=0.0, ge=-12, le=14, description="The hours are local time at this offset from UTC. [h]"
    )
    hourly_rps: tuple[HourlyRate, ...] = Field(
        description="Mean request rate per hour, Monday 00:00 first (168 values) or one day (24). [requests/s]"
    )
    tokens: ProfileTokens = Field(default_factory=ProfileTokens)
    source: ProfileSource

    @field_validator("hourly_rps")
    @classmethod
    def _length(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if len(value) not in (HOURS_PER_DAY, HOURS_PER_WEEK):
            raise ValueError(f"give 168 values (a week, Monday 00:00 first) or 24 (a day), not {len(value)}")
        if not any(v > 0 for v in value):
            raise ValueError("every hour has rate 0; a profile needs some traffic")
        return value

    @property
    def shape(self) -> Literal["week", "day"]:
        return "week" if len(self.hourly_rps) == HOURS_PER_WEEK else "day"

    @property
    def mean_rps(self) -> float:
        """Mean rate over the profile's hours. [requests/s]"""
        return math.fsum(self.hourly_rps) / len(self.hourly_rps)

    @property
    def peak_rps(self) -> float:
        """Highest hourly mean rate. [requests/s]"""
        return max(self.hourly_rps)

    @property
    def cached_input_fraction(self) -> float | None:
        """Share of input tokens served from a prompt cache, where both are known. [unitless]"""
        t = self.tokens
        if t.input is None or t.cached_input is None or t.input.mean <= 0:
            return None
        return min(1.0, t.cached_input.mean / t.input.mean)


def profile_document(profile: TrafficProfile) -> dict[str, Any]:
    """The YAML document of a profile: ``{"traffic_profile": {...}}``, None fields left out."""
    return {TOP_KEY: profile.model_dump(mode="json", exclude_none=True)}


def dump_profile(profile: TrafficProfile, header: str = "") -> str:
    """The profile as YAML text: ``header`` as comment lines, then the document, the rates
    written 12 to a line (a day is two lines)."""
    body = profile_document(profile)[TOP_KEY]
    rates = body.pop("hourly_rps")
    first = {k: body.pop(k) for k in ("description", "utc_offset_hours") if k in body}

    def indented(data: dict[str, Any]) -> str:
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=96) if data else ""
        return "".join(f"  {line}\n" for line in text.splitlines())

    chunks = [", ".join(f"{r:.6g}" for r in rates[i : i + 12]) for i in range(0, len(rates), 12)]
    block = "  hourly_rps: [\n" + ",\n".join(f"    {c}" for c in chunks) + "]\n"
    head = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return head + f"{TOP_KEY}:\n" + indented(first) + block + indented(body)


def write_profile(
    path: str | Path, profile: TrafficProfile, header: str = "", *, force: bool = False
) -> None:
    """Write a profile file atomically (`selfhost.files.write_file`); an existing file is replaced
    only with ``force``.

    Raises:
        InputError: the file exists (without ``force``), or its directory does not.
        OutputError: the file system refused the write.
    """
    from selfhost.files import write_file

    write_file(path, dump_profile(profile, header), what="-o", force=force)


def read_profile(path: str | Path) -> TrafficProfile:
    """A validated profile from a YAML file.

    Raises:
        InputError: unreadable, not YAML, not a ``traffic_profile`` document, or invalid (each
            problem named with its location).
    """
    p = Path(path)
    return profile_from_document(read_yaml(p, "traffic profile"), p)


def profile_from_document(document: Any, path: Path) -> TrafficProfile:
    if not isinstance(document, dict) or set(document) != {TOP_KEY}:
        raise InputError(f"'{path}' is not a traffic profile: the top level must be one key, '{TOP_KEY}:'")
    try:
        return TrafficProfile.model_validate(document[TOP_KEY])
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise InputError(f"'{path}' is not a valid traffic profile: {problems}") from None


def is_profile_document(document: Any) -> bool:
    return isinstance(document, dict) and set(document) == {TOP_KEY}


def hour_label(h: int, n_hours: int) -> str:
    """'Mon 09:00' for a week slot, '09:00' for a day slot."""
    if n_hours == HOURS_PER_WEEK:
        return f"{DAYS[h // HOURS_PER_DAY]} {h % HOURS_PER_DAY:02d}:00"
    return f"{h:02d}:00"
