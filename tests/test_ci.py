"""CI runs what README tells a newcomer to run, and the suite runs on what users install.

.ci/run is read as bash reads it: comments, heredoc bodies (the Python snippets CI feeds to an
interpreter) and the words of `echo`/`section` labels are not commands. README's two fenced
commands must appear there as commands, step by step and in order, with the same arguments
(CI may only add --quiet or pytest's -p no:cacheprovider), in the virtualenv the first step creates.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = ROOT / ".ci" / "run"

OPERATORS = {"&&", "||", ";", "|", "&", "(", ")", "()", "{", "}", ";;", "|&"}
KEYWORDS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "do",
    "done",
    "while",
    "until",
    "!",
    "time",
    "local",
    "export",
}
REDIRECTIONS = {">", ">>", "<", "<<", "<<<", ">&", "&>", "<&", ">|"}
#: Arguments CI may add to a README step: output verbosity and pytest's cache (CI's tree is read-only).
ALLOWED_EXTRAS = {"--quiet", "-q", "-p", "no:cacheprovider"}


@dataclass(frozen=True)
class Command:
    argv: list[str]
    then: str  # the operator after it (";" at the end of a line)
    rest: list[list[str]]  # the commands after it on the same line


def logical_lines(script: str) -> list[str]:
    """The script's lines without heredoc bodies, continuation lines joined."""
    lines, heredoc, pending = [], None, ""
    for line in script.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if line.lstrip().startswith("#"):
            continue
        marker = re.search(r"<<-?\s*(['\"]?)(\w+)\1", line.split(" #", 1)[0])
        if marker:
            heredoc = marker.group(2)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return lines


def commands(script: str) -> list[Command]:
    """The simple commands of a bash script, in order, as argv lists (assignments and keywords in
    front dropped, cut at the first redirection)."""
    found: list[Command] = []
    for line in logical_lines(script):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:  # an unbalanced quote in `$(...)`: not a command README could name
            continue
        on_line: list[tuple[list[str], str]] = []
        current: list[str] = []
        for token in [*tokens, ";"]:
            if token in OPERATORS:
                on_line.append((simple(current), token))
                current = []
            else:
                current.append(token)
        on_line = [(argv, then) for argv, then in on_line if argv]
        for i, (argv, then) in enumerate(on_line):
            found.append(Command(argv, then, [a for a, _ in on_line[i + 1 :]]))
    return found


def simple(tokens: list[str]) -> list[str]:
    """A command's argv: keywords and variable assignments in front dropped, cut at a redirection."""
    while tokens and (tokens[0] in KEYWORDS or re.match(r"^\w+=", tokens[0])):
        tokens = tokens[1:]
    for i, token in enumerate(tokens):
        if token in REDIRECTIONS:
            return tokens[:i]
    return tokens


def readme_commands() -> list[str]:
    """README's first two fenced bash blocks: install-and-run, and install-and-test."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [block.strip() for block in blocks[:2]]


def steps(command: str) -> list[list[str]]:
    return [shlex.split(step) for step in command.split(" && ")]


def in_venv(argv: list[str], venv: str) -> list[str]:
    """README's step with its `.venv` replaced by CI's virtualenv."""
    return [venv + a[len(".venv") :] if a == ".venv" or a.startswith(".venv/") else a for a in argv]


def find_in_ci(readme_command: str, ci: list[Command]) -> list[Command] | str:
    """The CI commands that run README's steps in order (same venv), or why there are none."""
    wanted = steps(readme_command)
    assert wanted[0][:3] == ["python3", "-m", "venv"] and wanted[0][3] == ".venv", wanted[0]
    reasons = []
    for start, first in enumerate(ci):
        if first.argv[:3] != ["python3", "-m", "venv"] or len(first.argv) != 4:
            continue
        venv, chain, at = first.argv[3], [first], start + 1
        for step in wanted[1:]:
            step = in_venv(step, venv)
            for j in range(at, len(ci)):
                argv = ci[j].argv
                if argv[: len(step)] == step and set(argv[len(step) :]) <= ALLOWED_EXTRAS:
                    chain.append(ci[j])
                    at = j + 1
                    break
            else:
                reasons.append(f"venv {venv}: no `{shlex.join(step)}` after it")
                break
        else:
            return chain
    return "; ".join(reasons) or "no `python3 -m venv DIR` step"


def masks_failure(command: Command) -> bool:
    """Whether its exit status is thrown away (`|| true`, a pipe, running it in the background)."""
    if command.then in ("|", "|&", "&"):
        return True
    return command.then == "||" and not any(argv[0] in ("fail", "exit") for argv in command.rest)


def ci_commands() -> list[Command]:
    return commands(CI.read_text(encoding="utf-8"))


@pytest.mark.parametrize("which", [0, 1], ids=["install-and-run", "install-and-test"])
def test_ci_runs_each_readme_command_step_by_step(which: int) -> None:
    command = readme_commands()[which]
    chain = find_in_ci(command, ci_commands())
    assert not isinstance(chain, str), f"README's `{command}` is not run by .ci/run: {chain}"
    assert not masks_failure(chain[-1]), f"CI ignores the exit status of `{shlex.join(chain[-1].argv)}`"


def test_readme_test_command_runs_the_whole_suite_in_ci() -> None:
    *_, pytest_step = find_in_ci(readme_commands()[1], ci_commands())  # type: ignore[misc]
    assert pytest_step.argv[1:4] == ["-m", "pytest", "-q"]
    assert not any(a.startswith(("tests/", "-k", "--deselect", "-m")) for a in pytest_step.argv[4:])


def test_ci_builds_from_a_clean_clone_and_tests_the_installed_wheel_and_sdist() -> None:
    ci = ci_commands()
    argvs = [c.argv for c in ci]
    assert any(a[:2] == ["git", "clone"] for a in argvs), "CI does not clone the checkout"
    assert any(a[:3] == ["rm", "-rf", "$CLONE/src"] for a in argvs), "the clone's src/ stays importable"
    installs = [a for a in argvs if len(a) >= 3 and a[0].endswith("/bin/pip") and a[1] == "install"]
    assert any(a[-1] == "$CLONE_WHEEL[test]" for a in installs), (
        "the wheel built from the clone is not installed"
    )
    assert any(a[-1] == "$SDIST[test]" for a in installs), "the sdist is not installed"
    suites = [c for c in ci if c.argv[0] == "run_suite_installed" and len(c.argv) > 1]
    assert [c.argv[1] for c in suites] == ["$WHEEL_VENV", "$SDIST_VENV"]
    assert all(not masks_failure(c) for c in suites)


# --------------------------------------------------------------------------- the reader itself

SCRIPT = """\
#!/usr/bin/env bash
# python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/selfhost crossover --rps 5
section "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'"
echo '$ .venv/bin/python -m pytest -q'
"$V"/bin/python - <<'EOF'
python3 -m venv .venv
EOF
"""


def test_comments_labels_and_heredocs_are_not_commands() -> None:
    for command in readme_commands():
        assert isinstance(find_in_ci(command, commands(SCRIPT)), str)
    assert [c.argv[0] for c in commands(SCRIPT)] == ["section", "echo", "$V/bin/python"]


def test_readme_steps_are_found_with_cis_venv_and_only_harmless_extras() -> None:
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest -q"
    )
    script = 'python3 -m venv "$VENV"\n"$VENV"/bin/pip install -e \'.[test]\' --quiet\n'
    good = script + '"$VENV"/bin/python -m pytest -q -p no:cacheprovider\n'
    assert not isinstance(find_in_ci(test_command, commands(good)), str)
    for bad in (
        script + '"$VENV"/bin/python -m pytest -q -k "not slow"\n',  # a subset of the suite
        script + '"$OTHER"/bin/python -m pytest -q\n',  # another venv
        '"$VENV"/bin/python -m pytest -q\n' + script,  # before the install
        script.replace("-e '.[test]'", "'.[test]'") + '"$VENV"/bin/python -m pytest -q\n',
    ):
        assert isinstance(find_in_ci(test_command, commands(bad)), str), bad
    [*_, last] = find_in_ci(test_command, commands(script + '"$VENV"/bin/python -m pytest -q || true\n'))  # type: ignore[misc]
    assert masks_failure(last)
    [*_, last] = find_in_ci(test_command, commands(script + '"$VENV"/bin/python -m pytest -q || fail "x"\n'))  # type: ignore[misc]
    assert not masks_failure(last)
