"""House rules that tools do not check by themselves: module size, and that each layer stays in its lane.

ruff keeps the complexity limits (McCabe 14, 8 arguments), numpydoc the parameter docs,
import-linter the direction of imports; ``tests/geo/test_purity.py`` keeps `geo` free of files.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_CODE_LINES = 600  # about 600 lines of code a module; docstrings and comments are not counted


def code_lines(source: str) -> int:
    """Return the lines of ``source`` that hold code (not blank, not comments, not docstrings)."""
    doc_lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                doc_lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            continue
        if tok.type == tokenize.ENDMARKER:
            continue
        code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - doc_lines)


MODULES = sorted(p for pkg in ("geo", "layers", "api") for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_about_600_lines_of_code(path: Path) -> None:
    n = code_lines(path.read_text(encoding="utf-8"))
    assert n <= MAX_CODE_LINES, f"{path.relative_to(ROOT)} has {n} lines of code; split it by concern"


def test_code_lines_counts_code_only() -> None:
    source = '"""Doc.\n\nMore."""\n\n# comment\nx = 1  # trailing\n\n\ndef f():\n    """Doc."""\n    return (\n        x\n    )\n'
    assert code_lines(source) == 5  # x = 1, def f, return ( x )
