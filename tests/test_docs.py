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
