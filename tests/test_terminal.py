"""Tables as a person sees them: every table command rendered at 80, 100 and 120 columns.

Each command runs in-process with $COLUMNS fixed (Rich lays its console out to it, as in a
terminal of that width), and the rendered text is held to what issue 10 asks:

- no line is wider than the terminal;
- no number and no word is broken: every word of the narrow rendering is a whole word of the
  same table drawn with ``--wide`` (where nothing folds); ids may break only after a hyphen
  in the columns that allow it;
- a table that leaves columns out says which, and how to see them (``--wide``, ``--format csv``);
- the essential figures are on the row they belong to.

The last test runs the real command in a real terminal (tmux) at 80 columns.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner, Result

from selfhost.cli.app import app_for
from selfhost.render import Column, fit_layout, hyphen_wrap, never_or, sig3, usd

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (80, 100, 120)
BOX = "│┃┏┓┗┛┡┩┣┫━─┌┐└┘├┤┬┴┼╇╈╋┳┻╭╮╯╰"

#: Every table command, with arguments that give it a table worth reading.
TABLE_COMMANDS = {
    "crossover": ["crossover", "--rps", "5"],
    "crossover-uncertainty": ["crossover", "--rps", "5", "-m", "llama-3.3-70b,deepseek-r1", "--uncertainty", "2000"],
    "cost": ["cost", "--rps", "5", "-m", "llama-3.3-70b", "--limit", "12"],
    "fit": ["fit", "llama-3.3-70b", "--gpu", "h100"],
    "fit-nothing": ["fit", "deepseek-v3", "--gpu", "l4"],
    "estimate": ["estimate", "-m", "llama-3.3-70b", "-g", "h100", "-q", "awq-int4"],
    "kv-alert": ["kv-alert", "-m", "llama-3.3-70b", "-g", "h100", "-g", "a100-80gb", "-q", "awq-int4"],
    "plan": ["plan", "examples/hybrid.yaml"],
    "sensitivity": ["sensitivity", "--rps", "5", "-m", "llama-3.3-70b"],
    "sweep": ["sweep", "-m", "qwen2.5-7b", "-g", "l40s", "--rps", "1", "--rps", "10", "--format", "table", "--limit", "8"],
    "validate": ["validate"],
    "catalog-gpus": ["catalog", "list", "gpus"],
    "catalog-offers": ["catalog", "list", "offers"],
    "catalog-models": ["catalog", "list", "models"],
    "catalog-apis": ["catalog", "list", "apis"],
    "catalog-stale": ["catalog", "stale"],
}  # fmt: skip
#: Commands whose ids may break after a hyphen (measurement ids and sweep options are single
#: tokens longer than a narrow terminal).
HYPHENATED = {"validate", "sweep"}


def run(args: list[str], columns: int, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.chdir(ROOT)  # examples/ paths are relative to the repository
    result = CliRunner().invoke(app_for(args), args)
    assert result.exit_code in (0, 1), result.output  # validate exits 1 only when it skipped entries
    return result


def words(text: str) -> list[str]:
    """The words of rendered text: box drawing gone, split at white space."""
    return re.sub(f"[{BOX}]", " ", text).split()


def assert_fits(text: str, columns: int) -> None:
    for line in text.splitlines():
        assert cell_len(line.rstrip()) <= columns, f"{cell_len(line.rstrip())} > {columns}: {line!r}"


HINT = re.compile(r"\d+ column\(s\) hidden at .*?every field", re.S)


def assert_no_word_broken(narrow: str, wide: str, hyphens: bool) -> None:
    whole = set(words(wide))
    for word in words(HINT.sub("", " ".join(narrow.split()))):
        if word in whole:
            continue
        if (
            hyphens
            and word.endswith("-")
            and any(w.startswith(word) or f"-{word}" in w or word in w for w in whole)
        ):
            continue  # an id broken after a hyphen, in a column that allows it
        if hyphens and any(word in w for w in whole if "-" in w):
            continue  # the rest of a hyphen-broken id
        raise AssertionError(f"{word!r} is not a whole word of the --wide table")


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("name", list(TABLE_COMMANDS))
def test_every_table_fits_and_breaks_no_word(
    name: str, columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = TABLE_COMMANDS[name]
    narrow = run(args, columns, monkeypatch).stdout
    wide = run([*args, "--wide"], columns, monkeypatch).stdout
    assert narrow.strip(), f"{name}: no output"
    assert_fits(narrow, columns)
    assert_no_word_broken(narrow, wide, hyphens=name in HYPHENATED)
    if "hidden at" in narrow:  # a table that left columns out says which and how to see them
        hint = " ".join(narrow.split())
        assert "--wide shows them" in hint and "--format csv" in hint
    assert "hidden at" not in wide


def verdicts(monkeypatch: pytest.MonkeyPatch, *args: str) -> list[dict]:
    doc = json.loads(run(["crossover", "--rps", "5", *args, "--format", "json"], 200, monkeypatch).stdout)
    return doc["verdicts"]


@pytest.mark.parametrize("columns", WIDTHS)
def test_crossover_rows_carry_their_model_figures_on_one_line(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = run(["crossover", "--rps", "5"], columns, monkeypatch).stdout
    lines = out.splitlines()
    for v in verdicts(monkeypatch):
        (row,) = [line for line in lines if re.search(rf"│ {re.escape(v['model'])}\b", line)]
        assert usd(v["usd_per_month"]) in row
        assert never_or(sig3)(v["crossover_rps"]) in row
        if v["next_costs_more_usd_per_month"] is not None:
            assert "+" + usd(v["next_costs_more_usd_per_month"]) in row
    body = [line for line in lines if line.startswith("│")]
    assert len(body) <= 2 * len(verdicts(monkeypatch)), "a row takes at most two lines"


def test_crossover_at_80_columns_is_short_and_says_what_it_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(["crossover", "--rps", "5"], 80, monkeypatch).stdout
    assert len(out.splitlines()) < 60  # 236 lines before issue 10
    text = " ".join(out.split())
    assert "hidden at 80 columns (Own GPUs $/month, Own GPUs: deployment, Cheapest API, API $/month)" in text


def test_wider_terminals_show_more_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = {
        w: " ".join(run(["crossover", "--rps", "5"], w, monkeypatch).stdout.split())
        for w in (80, 100, 120, 200)
    }
    assert (
        "hidden at 80 columns (Own GPUs $/month, Own GPUs: deployment, Cheapest API, API $/month)"
        in shown[80]
    )
    assert "hidden at 100 columns (Own GPUs: deployment, Cheapest API, API $/month)" in shown[100]
    assert "hidden at 120 columns (Cheapest API, API $/month)" in shown[120]
    assert "hidden" not in shown[200] and "deepinfra-llama-3.3-70b-turbo-fp8" in shown[200]


def test_a_terminal_too_narrow_for_the_table_gets_one_block_per_row(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(["crossover", "--rps", "5", "-m", "llama-3.3-70b,deepseek-r1"], 50, monkeypatch).stdout
    assert "one block per row at 50 columns" in " ".join(out.split())
    assert re.search(r"^Model\s+llama-3\.3-70b\s*$", out, re.M)
    assert re.search(r"^Cheapest\s+own GPUs\s*$", out, re.M)  # deepseek-r1's verdict
    assert "deepinfra-llama-3.3-" in out and "turb\n" not in out  # an id breaks after a hyphen only
    assert_fits(out, 50)


def test_licences_that_forbid_production_are_marked_and_never_the_headline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = run(["crossover", "--rps", "5"], 100, monkeypatch).stdout
    assert re.search(r"│ mistral-large-2 † ", out)
    assert "† The licence does not allow production use" in " ".join(out.split())
    for v in verdicts(monkeypatch):
        if not v["license_allows_production"]:
            assert v["choice_kind"] != "self_hosted"
    summary = " ".join(out.split()).split("Largest saving from self-hosting:")[1]
    assert not summary.startswith(" mistral-large-2") and not summary.startswith(" codestral-22b")


# --------------------------------------------------------------------------- the layout itself


def test_layout_keeps_numbers_whole_and_drops_the_highest_priority_first() -> None:
    columns = [
        Column("a", "Model", justify="left"),
        Column("b", "$/month"),
        Column("c", "Extra detail", justify="left", priority=2),
        Column("d", "Cost per token", priority=1),
    ]
    cells = [["llama-3.3-70b"], ["$11,169"], ["a long detail text here"], ["$0.654"]]
    roomy = fit_layout([c.header for c in columns], cells, columns, 200)
    assert roomy.kept == (0, 1, 2, 3) and not roomy.blocks
    tight = fit_layout([c.header for c in columns], cells, columns, 40)
    assert tight.kept == (0, 1, 3)  # priority 2 goes before priority 1
    assert tight.widths[1] >= len("$11,169")  # a number is never narrower than itself
    narrow = fit_layout([c.header for c in columns], cells, columns, 20)
    assert narrow.blocks
    assert fit_layout([c.header for c in columns], cells, columns, None).widths == (13, 7, 23, 14)


def test_hyphen_wrap_breaks_only_after_hyphens() -> None:
    assert hyphen_wrap("trt017-llama31-8b-h200-tp1-128-128", 16) == "trt017-llama31-\n8b-h200-tp1-128-\n128"
    assert hyphen_wrap("short id", 16) == "short id"


# --------------------------------------------------------------------------- a real terminal


def tmux() -> str:
    path = shutil.which("tmux")
    if path is None:
        pytest.fail("'tmux' is not installed: apt-get install -y tmux (as .ci/run does)")
    return path


def test_crossover_in_a_real_80_column_terminal(tmp_path: Path) -> None:
    """`selfhost crossover --rps 5` in tmux at 80 columns: the pane holds the whole table, each
    line within 80 columns, the money on the rows it belongs to."""
    binary = tmux()
    out = tmp_path / "pane.txt"
    socket = str(tmp_path / "tmux.sock")
    # the pane's own width, as a terminal reports it: no $COLUMNS (the suite sets one for CliRunner)
    command = f"env -u COLUMNS -u LINES {sys.executable} -m selfhost crossover --rps 5 -m llama-3.3-70b,deepseek-r1 2>/dev/null; sleep 30"
    subprocess.run(
        [binary, "-S", socket, "new-session", "-d", "-x", "80", "-y", "60", "-e", "NO_COLOR=1", command],
        check=True,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = subprocess.run(
                [binary, "-S", socket, "capture-pane", "-p", "-J"], check=True, capture_output=True, text=True
            ).stdout
            if "Largest saving" in text or "nearest is" in text:
                break
            time.sleep(0.3)
        out.write_text(text, encoding="utf-8")
    finally:
        subprocess.run([binary, "-S", socket, "kill-server"], check=False)
    assert "Self-host vs API at 5 req/s" in text, text
    table = [line for line in text.splitlines() if line.startswith(("┃", "│", "┏", "└"))]
    assert table and all(cell_len(line.rstrip()) <= 80 for line in table)
    assert re.search(r"│ deepseek-r1 +│ own GPUs +│ +\$14,804 │", text), text


@pytest.mark.parametrize("columns", WIDTHS)
def test_deploy_summary_fits_and_keeps_the_serve_line_whole(
    columns: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["deploy", "-m", "llama-3.3-70b", "-g", "h100", "-q", "fp8", "--rps", "5", "--self-signed",
            "-o", str(tmp_path / "kit")]  # fmt: skip
    out = run(args, columns, monkeypatch).stdout
    lines = out.splitlines()
    serve = lines[-1]
    assert serve.startswith("vllm serve ") and "--max-num-seqs" in serve  # one line, to copy whole
    assert_fits("\n".join(lines[:-1]), columns)
    record = json.loads(run([*args, "--force", "--format", "json"], columns, monkeypatch).stdout)["kits"][0]
    assert serve == record["serve_line"]
    assert f"replicas for 5 req/s: {record['kit']['replicas']}" in out


def test_a_text_column_counts_on_the_width_its_cells_really_wrap_to_in_two_lines() -> None:
    from selfhost.render import _width_for_lines, _wrapped_lines

    cell = "1 replica × 1 rtx-pro-6000-96gb, nvfp4, Nebius"  # 46 characters
    # half its length (23) is not enough: '1 replica × 1' (13) + 'rtx-pro-6000-96gb,' (18) overflow 23  # noqa: RUF003 (the cell as printed)
    assert _wrapped_lines(cell, 23) == 3
    # 32 holds '1 replica × 1 rtx-pro-6000-96gb,' (32) and 'nvfp4, Nebius': two lines; 31 does not  # noqa: RUF003
    assert _wrapped_lines(cell, 31) == 3 and _wrapped_lines(cell, 32) == 2
    assert _width_for_lines([cell], 23, 46, 2, hyphens=False) == 32
