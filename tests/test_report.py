"""`selfhost report`: the document is written, and every number in it equals the JSON output's.

Numbers are read back from the generated Markdown and HTML tables and compared with
`selfhost crossover --format json`, `crossover --uncertainty N --seed S --format json`,
`sensitivity --format json`, `fit --format json` and `crossover --baseline --format json`
run with the same options, to the precision the document prints.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from selfhost.chart import REPORT_EXTRA
from selfhost.cli.report_cmd import CHART_FILE_SUFFIX
from selfhost.render import deployment_words
from selfhost.sensitivity import INPUTS

Cli = Callable[..., Result]
SAMPLES = "2000"  # small: the band's numbers must match the JSON's for the same samples and seed
SELECTION = ("--rps", "5", "-m", "llama-3.3-70b", "-m", "deepseek-v3")
Table = list[dict[str, str]]


# --------------------------------------------------------------------------- reading the document back


def markdown_tables(text: str) -> dict[str, list[Table]]:
    """Tables under each '## ' heading, as lists of {header: cell} rows."""
    tables: dict[str, list[Table]] = {}
    heading, block = "", []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if block:
            header = split_row(block[0])
            rows = [dict(zip(header, split_row(r), strict=True)) for r in block[2:]]
            tables.setdefault(heading, []).append(rows)
            block = []
        if line.startswith("## "):
            heading = line[3:]
    return tables


def split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [plain(c.strip().replace("<br>", "\n").strip("`").strip()) for c in cells]


def plain(markdown: str) -> str:
    """Markdown text as a reader sees it: CommonMark's backslash escapes and entities undone."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown))


class HtmlTables(HTMLParser):
    """Tables by id, as lists of {header: cell} rows; <br> read as a newline."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, Table] = {}
        self.current: str | None = None
        self.header: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.current, self.header = dict(attrs).get("id") or "", []
            self.tables[self.current] = []
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.current is not None:
            if not self.header:
                self.header = self.row
            else:
                self.tables[self.current].append(dict(zip(self.header, self.row, strict=True)))
            self.row = None
        elif tag == "table":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> dict[str, Table]:
    parser = HtmlTables()
    parser.feed(text)
    return parser.tables


def number(text: str) -> float | None:
    """A printed number: '$6,905' -> 6905, '-$4,330' -> -4330, '24.7' -> 24.7, 'never' / '-' -> None."""
    text = text.strip()
    if text in ("never", "-"):
        return None
    negative = text.startswith("-")
    value = float(text.lstrip("-").lstrip("$").replace(",", "").rstrip("%"))
    return -value if negative else value


def shows(text: str, value: float | None) -> bool:
    """Does ``text`` print ``value`` to its own precision (half a unit of its last digit)?"""
    printed = number(text)
    if value is None or printed is None:
        return printed is None and value is None
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(printed - value) <= 0.5 * 10.0**-decimals * (1 + 1e-9) + 1e-9


def band(text: str) -> list[str]:
    return [part.strip() for part in text.split("/")]


def probability_shows(text: str, p: float) -> bool:
    if text == "<1%":
        return 0 < p < 0.005
    if text == ">99%":
        return 0.995 <= p < 1
    return shows(text.rstrip("%"), 100 * p)


# --------------------------------------------------------------------------- the JSON it must equal


def run_json(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.stdout)
    return doc


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in CI, which installs only `.[test]`: `import matplotlib` fails."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def write(cli: Cli, path: Path, *extra: str) -> Result:
    result = cli("report", *SELECTION, "--uncertainty", SAMPLES, "-o", str(path), *extra)
    assert result.exit_code == 0, result.output
    return result


# --------------------------------------------------------------------------- numbers equal the JSON


def test_markdown_numbers_equal_the_json_outputs(cli: Cli, tmp_path: Path, no_matplotlib: None):
    path = tmp_path / "review.md"
    result = write(cli, path)
    assert result.stdout == ""
    assert f"wrote {path}" in result.stderr
    tables = markdown_tables(path.read_text(encoding="utf-8"))
    check_costs(tables["Costs at 5 requests/s"][0], run_json(cli, "crossover", *SELECTION)["results"])
    check_band(
        tables["Uncertainty: P10 / P50 / P90"][0],
        run_json(cli, "crossover", *SELECTION, "--uncertainty", SAMPLES, "--seed", "0")["results"],
    )
    check_tornado(
        tables["Sensitivity: which input moves the saving most"][0], run_json(cli, "sensitivity", *SELECTION)
    )
    check_crossovers(
        tables["Monthly cost against request rate"][-1], run_json(cli, "crossover", *SELECTION)["results"]
    )
    check_fit(cli, tables["Does it fit?"][0])
    stale = run_json(cli, "crossover", *SELECTION)["assumptions"]["stale_prices"]
    stale_rows = tables["Stale prices"][0] if stale else []
    assert [r["Price"] for r in stale_rows] == [s["id"] for s in stale]
    assert [int(r["Age days"].replace(",", "")) for r in stale_rows] == [s["age_days"] for s in stale]


def check_costs(rows: Table, records: list[dict[str, Any]]) -> None:
    assert [(r["Model"], r["API"]) for r in rows] == [(j["model"], j["api"]) for j in records]
    for row, j in zip(rows, records, strict=True):
        assert shows(row["Self-hosted $/month"], j["self_hosted_usd_per_month"])
        assert shows(row["API $/month"], j["api_usd_per_month"])
        assert shows(row["Saving $/month"], j["saving_usd_per_month"])
        assert shows(row["Self-hosted $/1M tokens"], j["self_hosted_usd_per_mtok"])
        assert shows(row["API $/1M tokens"], j["api_usd_per_mtok"])
        assert shows(row["Crossover req/s"], j["crossover_rps"])
        assert row["Cheaper"] == j["cheaper"]
        assert row["Self-hosted on"] == deployment_words(j)  # the one notation of every table


def check_band(rows: Table, records: list[dict[str, Any]]) -> None:
    assert [(r["Model"], r["API"]) for r in rows] == [(j["model"], j["api"]) for j in records]
    columns = {
        "Crossover req/s P10 / P50 / P90": "crossover_rps",
        "Self-hosted $/month P10 / P50 / P90": "self_hosted_usd_per_month",
        "API $/month P10 / P50 / P90": "api_usd_per_month",
        "Saving $/month P10 / P50 / P90": "saving_usd_per_month",
    }
    for row, j in zip(rows, records, strict=True):
        for header, key in columns.items():
            for text, q in zip(band(row[header]), ("p10", "p50", "p90"), strict=True):
                assert shows(text, j[f"{key}_{q}"]), (header, q, text, j[f"{key}_{q}"])
        assert probability_shows(row["P(self-hosted cheaper)"], j["probability_self_hosted_cheaper"])
        assert probability_shows(row["P(no crossover)"], j["probability_no_crossover"])


def check_tornado(rows: Table, doc: dict[str, Any]) -> None:
    records = doc["results"]
    short = {i.short: i.key for i in INPUTS}
    assert [(r["Model"], r["API"], short[r["Input"]]) for r in rows] == [
        (j["model"], j["api"], j["input"]) for j in records
    ]
    spread = f"{doc['assumptions']['range']:.0%}"
    for row, j in zip(rows, records, strict=True):
        low, high = (part.strip() for part in row[f"Value -{spread} → +{spread}"].split("→"))
        assert shows(low, j["low_value"]) and shows(high, j["high_value"])
        saving_low, saving_high = (part.strip() for part in row["Saving $/month"].split("→"))
        assert shows(saving_low, j["saving_usd_per_month_low"]) and shows(
            saving_high, j["saving_usd_per_month_high"]
        )
        cross_low, cross_high = (part.strip() for part in row["Crossover req/s"].split("→"))
        assert shows(cross_low, j["crossover_rps_low"]) and shows(cross_high, j["crossover_rps_high"])
        assert shows(row["Swing $/month"], j["swing_usd_per_month"])
        assert "│" in row["Saving: ░ -range █ +range"]


def check_crossovers(rows: Table, records: list[dict[str, Any]]) -> None:
    assert len(rows) == len(records)
    for row, j in zip(rows, records, strict=True):
        assert (row["Model"], row["API"]) == (j["model"], j["api"])
        if j["crossover_rps"] is None:
            assert row["Crossover"] == j["crossover_note"]
        else:
            assert shows(row["Crossover"].removesuffix(" req/s"), j["crossover_rps"])


def check_fit(cli: Cli, rows: Table) -> None:
    for row in rows:
        # `fit` lists every layout of the GPU count ('TP4', 'DP4 attention + EP4'): the row's layout
        [fitted] = [
            r
            for r in run_json(
                cli,
                "fit",
                row["Model"],
                "-g",
                row["GPU"],
                "-q",
                row["Quantization"],
                "--gpus",
                row["GPUs per replica"],
                "--context",
                "1300",
            )["results"]
            if r["layout"] == row["Layout"]
        ]
        assert shows(row["Weights GB"], fitted["weights_gb"])
        assert shows(row["Usable GB"], fitted["usable_memory_gb"])
        assert shows(row["KV capacity tokens"], fitted["kv_capacity_tokens"])
        assert shows(row["Sequences at 1,300 tokens"], fitted["max_concurrent_sequences"])


def test_html_tables_hold_the_markdown_tables(cli: Cli, tmp_path: Path, no_matplotlib: None):
    write(cli, tmp_path / "review.md")
    write(cli, tmp_path / "review.html")
    md = markdown_tables((tmp_path / "review.md").read_text(encoding="utf-8"))
    page = (tmp_path / "review.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    tables = html_tables(page)
    pairs = {
        "costs": "Costs at 5 requests/s",
        "uncertainty": "Uncertainty: P10 / P50 / P90",
        "sensitivity": "Sensitivity: which input moves the saving most",
        "fit": "Does it fit?",
        "workload": "The question",
        "entries": "Assumptions, sources and dates",
    }
    for table_id, heading in pairs.items():
        assert tables[table_id] == md[heading][0], table_id
    check_costs(tables["costs"], run_json(cli, "crossover", *SELECTION)["results"])


def test_recommendation_follows_the_cheapest_option_per_model(cli: Cli, tmp_path: Path, no_matplotlib: None):
    path = tmp_path / "review.md"
    write(cli, path)
    text = path.read_text(encoding="utf-8")
    section = text.split("## Recommendation\n\n")[1].split("\n## ")[0]
    items = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    verdicts = run_json(cli, "crossover", *SELECTION)["verdicts"]
    assert [i.split(":")[0] for i in items] == [v["model"] for v in verdicts]  # one line per model
    for item, v in zip(items, verdicts, strict=True):
        doing = "self-host it on" if v["choice_kind"] == "self_hosted" else f"use {v['choice']}"
        assert doing in item
        assert f"${v['usd_per_month']:,.0f}/month" in item  # what it costs
        if v["next_costs_more_usd_per_month"] is not None:
            assert f"saves ${v['next_costs_more_usd_per_month']:,.0f}/month against" in item
        assert "confidence " in item and "would flip:" in item
    detail = text.split("### Detail for the engineers\n\n")[1].split("\n\n")[0]
    assert "\n" not in detail  # one paragraph
    records = run_json(cli, "crossover", *SELECTION)["results"]
    for model in ("llama-3.3-70b", "deepseek-v3"):
        mine = [r for r in records if r["model"] == model]
        cheapest = min(mine, key=lambda r: r["api_usd_per_month"])
        if mine[0]["self_hosted_usd_per_month"] < cheapest["api_usd_per_month"]:
            assert f"self-host {model} on" in detail
        else:
            assert (
                f"keep {model} on {cheapest['api']} at ${cheapest['api_usd_per_month']:,.0f}/month" in detail
            )
    assert "roofline estimate" in detail


def test_a_licence_that_forbids_production_never_recommends_own_gpus(
    cli: Cli, tmp_path: Path, no_matplotlib: None
):
    path = tmp_path / "review.md"
    assert (
        cli("report", "--rps", "5", "-m", "mistral-large-2", "--uncertainty", "0", "-o", str(path)).exit_code
        == 0
    )
    text = path.read_text(encoding="utf-8")
    section = text.split("## Recommendation")[1].split("\n## ")[0]
    (item,) = [line for line in section.splitlines() if line.startswith("- ")]
    assert item.startswith("- mistral-large-2: use ") and "does not allow self-hosting in production" in item
    detail = text.split("### Detail for the engineers\n\n")[1].split("\n\n")[0]
    assert "self-hosting wins" not in detail and "Not counted: mistral-large-2" in detail


def test_reproduce_lists_the_commands_with_the_given_options(cli: Cli, tmp_path: Path, no_matplotlib: None):
    path = tmp_path / "review.md"
    write(cli, path, "--range", "0.2")
    block = path.read_text(encoding="utf-8").split("## Reproduce\n\n```bash\n")[1].split("```")[0]
    shared = "--rps 5 --model llama-3.3-70b --model deepseek-v3"
    assert block.splitlines() == [
        f"selfhost crossover {shared} --format json",
        f"selfhost crossover {shared} --uncertainty {SAMPLES} --seed 0 --format json",
        f"selfhost sensitivity {shared} --range 0.2 --format json",
        f"selfhost crossover {shared} --chart",
    ]


def test_report_with_a_baseline_has_what_changed(cli: Cli, tmp_path: Path, no_matplotlib: None):
    last = tmp_path / "last.json"
    last.write_text(
        json.dumps(run_json(cli, "crossover", "--rps", "4", "-m", "llama-3.3-70b")), encoding="utf-8"
    )
    path = tmp_path / "review.md"
    result = cli(
        "report",
        "--rps",
        "5",
        "-m",
        "llama-3.3-70b",
        "--uncertainty",
        "0",
        "--baseline",
        str(last),
        "-o",
        str(path),
    )
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    rows = markdown_tables(text)["What changed since the last review"][0]
    changes = run_json(cli, "crossover", "--rps", "5", "-m", "llama-3.3-70b", "--baseline", str(last))[
        "results"
    ]
    assert len(rows) == len(changes)
    for row, j in zip(rows, changes, strict=True):
        old, new = (part.strip() for part in row["Self-hosted $/month"].split("→"))
        assert shows(old, j["self_hosted_usd_per_month_old"]) and shows(
            new, j["self_hosted_usd_per_month_new"]
        )
        assert shows(row["Saving change $/month"], j["saving_usd_per_month_change"])
        assert "option rps: 4 -> 5" in row["What changed"]
    assert "Not computed (--uncertainty 0)." in text


# --------------------------------------------------------------------------- the chart and the files


def test_markdown_without_matplotlib_has_the_table_fallback(cli: Cli, tmp_path: Path, no_matplotlib: None):
    path = tmp_path / "review.md"
    result = write(cli, path)
    text = path.read_text(encoding="utf-8")
    assert "![" not in text
    assert f"No chart drawn: matplotlib is not installed ({REPORT_EXTRA})" in plain(text)
    assert f"({REPORT_EXTRA})" in result.stderr
    assert "| Model | Option | " in text and "self-hosted: " in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.md"]


def fake_svg(monkeypatch: pytest.MonkeyPatch) -> str:
    """Stand in for matplotlib: the report's file handling does not depend on the drawing."""
    import selfhost.chart

    svg = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"><text>chart</text></svg>\n'
    monkeypatch.setattr(selfhost.chart, "svg_available", lambda: True)
    monkeypatch.setattr(selfhost.chart, "svg_chart", lambda chart: svg)
    return svg


def test_markdown_links_its_chart_written_beside_it(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    svg = fake_svg(monkeypatch)
    path = tmp_path / "review.md"
    result = write(cli, path)
    chart = tmp_path / f"review{CHART_FILE_SUFFIX}"
    assert chart.read_text(encoding="utf-8") == svg
    assert f"](review{CHART_FILE_SUFFIX})" in path.read_text(encoding="utf-8")
    assert f"wrote {path} and {chart}" in result.stderr


def test_html_inlines_the_chart(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    fake_svg(monkeypatch)
    path = tmp_path / "review.html"
    write(cli, path)
    page = path.read_text(encoding="utf-8")
    assert '<figure id="chart-figure"' in page and "<svg" in page and "<?xml" not in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.html"]


def test_existing_files_are_not_overwritten_without_force(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fake_svg(monkeypatch)
    path = tmp_path / "review.md"
    path.write_text("my notes\n", encoding="utf-8")
    result = cli("report", *SELECTION, "-o", str(path))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: -o '{path}' exists; pass --force to replace it"
    assert path.read_text(encoding="utf-8") == "my notes\n"
    path.unlink()
    chart = tmp_path / f"review{CHART_FILE_SUFFIX}"
    chart.write_text("my chart\n", encoding="utf-8")
    result = cli("report", *SELECTION, "-o", str(path))
    assert result.exit_code == 2 and f"'{chart}' exists; pass --force" in result.stderr
    assert not path.exists() and chart.read_text(encoding="utf-8") == "my chart\n"
    result = cli("report", *SELECTION, "--uncertainty", "0", "-o", str(path), "--force")
    assert result.exit_code == 0, result.output
    assert chart.read_text(encoding="utf-8") != "my chart\n" and path.read_text(encoding="utf-8").startswith(
        "# "
    )


def test_real_chart_with_whatever_is_installed(cli: Cli, tmp_path: Path):
    # CI (`.[test]`, no matplotlib): the fallback table; with `.[report]`: a real SVG with every crossover
    from selfhost.chart import svg_available

    path = tmp_path / "review.html"
    write(cli, path, "--uncertainty", "0")
    page = path.read_text(encoding="utf-8")
    if svg_available():
        records = run_json(cli, "crossover", *SELECTION)["results"]
        assert "<svg" in page
        for r in records:
            if r["crossover_rps"] is not None:
                assert f"{r['crossover_rps']:.3g} req/s" in page
    else:
        assert 'id="chart-table"' in page and REPORT_EXTRA in html.unescape(page)


@pytest.mark.parametrize(
    ("name", "message"),
    [("review.txt", "name a .md or .html file"), ("missing/review.md", "does not exist")],
)
def test_bad_output_paths_are_one_line_errors(cli: Cli, tmp_path: Path, name: str, message: str):
    result = cli("report", *SELECTION, "-o", str(tmp_path / name))
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_output_directory_is_refused(cli: Cli, tmp_path: Path):
    result = cli("report", *SELECTION, "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "name a .md or .html file" in result.stderr or "is a directory" in result.stderr
