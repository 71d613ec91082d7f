"""List the command-line flags a serving engine's release defines, read from its unpacked wheel.

Writes one flag per line, sorted, for tests/fixtures/engine_cli/ (which records the wheel each
list came from). Reads the Python source with `ast`; nothing from the wheel is imported or run.

    python scripts/engine_flags.py vllm   DIR_WITH_UNPACKED_vllm_PACKAGE   > tests/fixtures/engine_cli/vllm-0.33.0.txt
    python scripts/engine_flags.py sglang DIR_WITH_UNPACKED_sglang_PACKAGE > tests/fixtures/engine_cli/sglang-0.5.23.txt

vLLM: the literal option strings of every ``add_argument`` call in ``vllm/engine/arg_utils.py``
and ``vllm/entrypoints/common/cli_args.py``, plus ``--<field>`` for each field of the frontend
argument dataclasses there (``FrontendArgs.add_cli_args`` turns fields into flags).
SGLang: ``--<field>`` (``_field_to_cli_name`` in ``sglang/srt/arg_groups/arg_utils.py``), its
``cli_name`` and ``aliases``, for every annotated field of ``sglang/srt/arg_groups/fields/*.py``
not marked ``no_cli=True``, plus the literal option strings of ``add_argument`` calls in
``sglang/srt/server_args.py``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def _option_literals(tree: ast.AST) -> set[str]:
    flags: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-"):
                    flags.add(arg.value)
    return flags


def _kebab(name: str) -> str:
    return "--" + name.replace("_", "-")


def _class_fields(tree: ast.AST, classes: set[str] | None) -> list[tuple[str, ast.AnnAssign]]:
    fields = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and (classes is None or node.name in classes):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    fields.append((item.target.id, item))
    return fields


def vllm_flags(root: Path) -> set[str]:
    flags: set[str] = set()
    for rel in ("vllm/engine/arg_utils.py", "vllm/entrypoints/common/cli_args.py"):
        flags |= _option_literals(ast.parse((root / rel).read_text(encoding="utf-8")))
    cli = ast.parse((root / "vllm/entrypoints/common/cli_args.py").read_text(encoding="utf-8"))
    for name, _ in _class_fields(cli, {"BaseFrontendArgs", "FrontendArgs"}):
        flags.add(_kebab(name))
    return flags


def _arg_keywords(annotation: ast.AST) -> dict[str, ast.AST]:
    """Keywords of an ``Arg(...)`` call inside ``A[type, Arg(...)]``, if any."""
    for node in ast.walk(annotation):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Arg":
            return {k.arg: k.value for k in node.keywords if k.arg}
    return {}


def sglang_flags(root: Path) -> set[str]:
    flags = _option_literals(ast.parse((root / "sglang/srt/server_args.py").read_text(encoding="utf-8")))
    for path in sorted((root / "sglang/srt/arg_groups/fields").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name, item in _class_fields(tree, None):
            kw = _arg_keywords(item.annotation)
            no_cli = kw.get("no_cli")
            if isinstance(no_cli, ast.Constant) and no_cli.value is True:
                continue
            cli_name = kw.get("cli_name")
            flags.add(cli_name.value if isinstance(cli_name, ast.Constant) else _kebab(name))
            aliases = kw.get("aliases")
            if isinstance(aliases, ast.List):
                flags |= {e.value for e in aliases.elts if isinstance(e, ast.Constant)}
    return flags


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("vllm", "sglang"):
        sys.stderr.write(__doc__ or "")
        return 2
    root = Path(argv[2])
    flags = vllm_flags(root) if argv[1] == "vllm" else sglang_flags(root)
    sys.stdout.write("".join(f"{f}\n" for f in sorted(flags)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
