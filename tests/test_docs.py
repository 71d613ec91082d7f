"""Docs are specifications too: README's set-up commands, command list and CI agree with the tool."""

import re
from pathlib import Path

from typer.main import get_command

from selfhost.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_code_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_install_and_run_then_test_command():
    first, second = (block.strip() for block in readme_code_blocks()[:2])
    assert first.endswith("selfhost crossover --rps 5")
    assert "pip install" in first
    assert "pytest" in second and "[test]" in second


def test_ci_runs_exactly_the_readme_test_command():
    test_command = readme_code_blocks()[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for part in test_command.split(" && "):
        assert part.replace(".venv", "") in ci.replace('"$VENV"', "").replace("$VENV", ""), part


def test_every_command_appears_in_readme_and_has_help_with_an_example():
    group = get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"selfhost {name}" in README, name
        if hasattr(command, "commands"):
            for sub_name, sub in command.commands.items():
                assert f"selfhost {name} " in README
                assert "Example" in (sub.help or ""), f"{name} {sub_name}"
        else:
            assert "Example" in (command.help or ""), name


def test_methods_doc_exists_and_is_linked():
    assert (ROOT / "docs" / "method.md").exists()
    assert "docs/method.md" in README


def test_readme_reads_the_llama_crossover_off_the_table_it_quotes():
    """The reading guide's example figure is the Crossover cell of the llama-3.3-70b row in the
    quoted `crossover --rps 5` output (which scripts/docs_outputs.py keeps live)."""
    text = README
    table = text.split("<!-- output: selfhost crossover --rps 5 -->", 1)[1].split("```", 2)[1]
    header = next(line for line in table.splitlines() if "Crossover req/s" in line)
    row = next(line for line in table.splitlines() if line.startswith("│ llama-3.3-70b "))
    column = [c.strip() for c in header.split("┃")].index("Crossover req/s")
    crossover = [c.strip() for c in row.split("│")][column]
    prose = " ".join(text.split())
    assert f"for Llama 3.3 70B, the hosted model wins until {crossover} req/s." in prose
