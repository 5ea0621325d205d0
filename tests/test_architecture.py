"""Shape rules of the code base that review asked for, checked so that they stay true."""

from __future__ import annotations

import ast
from pathlib import Path

CLI = Path(__file__).resolve().parents[1] / "src" / "greenroom" / "cli"
#: Longest function allowed in `greenroom.cli`: longer ones hold logic that belongs in the library.
MAX_LINES = 50


def long_functions(path: Path, limit: int) -> list[str]:
    """`file:line name (N lines)` for each function in `path` longer than `limit` lines.

    A function's length runs from its `def` line to its last line (decorators not counted).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > limit
    ]


def test_cli_functions_are_short():
    files = sorted(CLI.glob("*.py"))
    assert len(files) > 10  # the rule reads the real package, not an empty folder
    too_long = [line for path in files for line in long_functions(path, MAX_LINES)]
    assert too_long == [], too_long


def test_the_rule_catches_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = tmp_path / "long.py"
    source.write_text(f"def long():\n{body}\n\n\ndef short():\n    return 1\n")
    assert long_functions(source, MAX_LINES) == [f"long.py:1 long ({MAX_LINES + 1} lines)"]
