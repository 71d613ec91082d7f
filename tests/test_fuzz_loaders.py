"""Hypothesis fuzzing of every loader: whatever the file holds, the loader returns or raises the
error type it documents (one message, naming the file), never anything else.

Each target starts from a valid document (a catalog entry, a workload, a measurement, a traffic
profile, a config.json, a usage log row) and mutates it: a field replaced by a hostile value
(booleans, None, huge or tiny numbers, infinities, strings, lists, mappings, deep nesting), a
field removed or an unknown one added. The raw parsers get arbitrary text. Every example is
small (a few kB) and the number of examples is fixed, so each target is bounded in time and
memory; no timing is asserted (Hypothesis's deadline is off).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfhost.calibration.loader import check_measurements
from selfhost.catalog.hf_config import model_from_hf_config
from selfhost.catalog.loader import read_catalog_file
from selfhost.errors import SelfhostError
from selfhost.inputs import load_json, load_yaml
from selfhost.traffic import profile_from_file
from selfhost.traffic_profile import profile_from_document
from selfhost.workloads import read_workloads

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------- values and mutations

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 2**63, 10**300, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 5e-324, 1e-300, float("inf"), float("nan")]),
    st.text(max_size=30),
    st.sampled_from(["", "1e3", "true", "null", "<script>x</script>", "\x1b[31m", "a|b", "8.0"]),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


hostile_values = st.one_of(values, st.integers(min_value=40, max_value=200).map(deep))
#: What a number is replaced by: the edges that broke things before (issue 11). Each draw is a
#: copy: a later mutation may add keys to a drawn {} and must not change the next example's.
hostile_numbers = st.sampled_from(
    [True, False, None, 0, -1, 0.5, 8.0, 2**63, 10**12, 10**300, 10**400, 1e308, -1e308, 5e-324,
     float("inf"), float("nan"), "8", "1e3", [], {}]
).map(copy.deepcopy)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a valid record, maybe nested) with one to three fields replaced, dropped or added."""
    record = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        target = record
        nested = [k for k, v in target.items() if isinstance(v, dict)]
        if nested and draw(st.booleans()):
            target = target[draw(st.sampled_from(sorted(nested)))]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        keys = sorted(target)
        if action == "add" or not keys:
            target[draw(st.text(min_size=1, max_size=12))] = draw(hostile_values)
        elif action == "drop":
            target.pop(draw(st.sampled_from(keys)))
        else:
            key = draw(st.sampled_from(keys))
            was_number = isinstance(target[key], int | float) and not isinstance(target[key], bool)
            target[key] = draw(hostile_numbers if was_number and draw(st.booleans()) else hostile_values)
    return record


def dumped(document: Any) -> str | None:
    """``document`` as YAML text, or None for data YAML cannot hold (e.g. a key that is a date)."""
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return None


def loads_or_refuses(load: Callable[[Path], object], text: str, suffix: str = ".yaml") -> None:
    """``load`` of a file holding ``text`` returns, or raises a SelfhostError naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzzed{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            load(path)
        except SelfhostError as exc:
            assert str(exc).strip()
            assert path.name in str(exc) or "config.json" in str(exc), str(exc)[:500]


def first_entry(file: Path, section: str) -> dict[str, Any]:
    return dict(yaml.safe_load(file.read_text(encoding="utf-8"))[section][0])


GPU = first_entry(DATA / "gpu_prices.yaml", "gpus")
OFFER = first_entry(DATA / "gpu_prices.yaml", "rental_offers")
MODEL = first_entry(DATA / "models.yaml", "models")
API = first_entry(DATA / "api_prices.yaml", "apis")
ENGINE = first_entry(DATA / "engines.yaml", "engines")
MEASUREMENT = first_entry(DATA / "calibration" / "measurements.yaml", "measurements")
WORKLOAD = first_entry(EXAMPLES / "hybrid.yaml", "workloads")
PROFILE = yaml.safe_load((EXAMPLES / "traffic" / "business-hours-chat.yaml").read_text(encoding="utf-8"))
CONFIG = json.loads((FIXTURES / "hf_configs" / "Qwen__Qwen3-30B-A3B.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- raw parsers


YAML_TOKENS = [
    *"[]{}:-,&*!|>'\"#%@`? \n\t\x00ab1.e+",
    "!!python/name:os.system ",
    "!!binary ",
    "&a ",
    "*a",
    "<<: ",
    "- ",
    ": ",
    "---\n",
    "%YAML 1.1\n",
]


@FUZZ
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=120).map("".join))
def test_the_yaml_parser_raises_only_yaml_or_value_errors(text: str) -> None:
    with contextlib.suppress(yaml.YAMLError, ValueError):
        load_yaml(text)


@FUZZ
@given(st.text(alphabet=st.sampled_from(list('[]{}:,"-+.eE0123456789 \ntruefalsnNIiy\\u')), max_size=300))
def test_the_json_parser_raises_only_value_errors(text: str) -> None:
    with contextlib.suppress(ValueError):
        load_json(text)


# --------------------------------------------------------------------------- file loaders


@FUZZ
@given(
    st.sampled_from(
        [("gpus", GPU), ("rental_offers", OFFER), ("models", MODEL), ("apis", API), ("engines", ENGINE)]
    ).flatmap(lambda pair: st.tuples(st.just(pair[0]), mutated(pair[1])))
)
def test_a_mutated_catalog_entry_loads_or_is_one_catalog_error(
    section_entry: tuple[str, dict[str, Any]],
) -> None:
    section, entry = section_entry
    text = dumped({section: [entry]})
    if text is not None:
        loads_or_refuses(read_catalog_file, text)


@FUZZ
@given(values)
def test_any_catalog_document_loads_or_is_one_catalog_error(document: Any) -> None:
    text = dumped(document)
    if text is not None:
        loads_or_refuses(read_catalog_file, text)


@FUZZ
@given(mutated(WORKLOAD))
def test_a_mutated_workload_loads_or_is_one_input_error(workload: dict[str, Any]) -> None:
    text = dumped({"workloads": [workload]})
    if text is not None:
        loads_or_refuses(read_workloads, text)


@FUZZ
@given(mutated(MEASUREMENT))
def test_a_mutated_measurement_loads_or_is_one_measurement_error(measurement: dict[str, Any]) -> None:
    text = dumped({"measurements": [measurement]})
    if text is not None:
        loads_or_refuses(check_measurements, text)


@FUZZ
@given(mutated(PROFILE["traffic_profile"]))
def test_a_mutated_traffic_profile_loads_or_is_one_input_error(profile: dict[str, Any]) -> None:
    try:
        profile_from_document({"traffic_profile": profile}, Path("fuzzed.yaml"))
    except SelfhostError as exc:
        assert "fuzzed.yaml" in str(exc)


@FUZZ
@given(mutated(CONFIG))
def test_a_mutated_config_imports_or_is_one_catalog_error(config: dict[str, Any]) -> None:
    try:
        model_from_hf_config(
            config,
            model_id="fuzzed",
            source="fuzzed config.json",
            as_of=dt.date(2026, 1, 1),
            license="apache-2.0",
        )
    except SelfhostError as exc:
        assert str(exc).strip()


ROW = {
    "request_id": "r1",
    "startTime": "2026-11-02T10:00:00Z",
    "endTime": "2026-11-02T10:00:02Z",
    "model": "gpt-4o-mini",
    "prompt_tokens": 100,
    "completion_tokens": 20,
}


@FUZZ
@given(st.lists(mutated(ROW), min_size=1, max_size=5))
def test_a_usage_log_with_mutated_rows_reads_or_is_one_input_error(rows: list[dict[str, Any]]) -> None:
    good = [
        {**ROW, "request_id": f"g{i}", "startTime": f"2026-11-0{1 + i % 7}T{i % 24:02d}:00:00Z"}
        for i in range(30)
    ]
    lines = [json.dumps(r, default=str) for r in [*good, *rows]]
    loads_or_refuses(
        lambda p: profile_from_file(p, hint="litellm-spend-logs"), "\n".join(lines) + "\n", suffix=".jsonl"
    )


@pytest.mark.parametrize("levels", [63, 64, 65, 1000])
def test_nesting_at_the_limit_is_exact(levels: int) -> None:
    """64 levels are read; 65 are refused (by the guard, before libyaml composes anything)."""
    from selfhost.inputs import MAX_DEPTH

    text = "[" * levels + "]" * levels
    expected: Any = []
    for _ in range(levels - 1):
        expected = [expected]
    if levels <= MAX_DEPTH:
        assert load_yaml(text) == expected
        assert load_json(text) == expected
    else:
        with pytest.raises(yaml.YAMLError):
            load_yaml(text)
        with pytest.raises(ValueError, match="nested"):
            load_json(text)
