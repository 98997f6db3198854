"""cxr_core names no paper in its code: paper knowledge lives in the paper packages (issue 9 item 2).

Every identifier and string constant (f-string text included) of every module under ``cxr_core``
is checked; docstrings (a string that is a statement of its own) and comments may cite the papers.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "cxr_core"
#: The papers' names as they appear in identifiers and text. Public data sources (Kermany, the
#: COVID-19 image data collection, COVIDx, COVID-CT) are not papers of this project: their download
#: layouts are shared machinery (cxr_core.data.build.sources), as in docs/DESIGN.md §2.
PAPER_NAMES = re.compile(r"coronet|cvrnet|cvr-net|corona", re.IGNORECASE)


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Lines covered by string statements (module/class/function docstrings, attribute notes)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def paper_names_in_code(source: str) -> list[tuple[int, str]]:
    """``(line, token)`` of every identifier or string constant outside docstrings that names a
    paper; comments are never tokens of interest."""
    docstrings = _docstring_lines(ast.parse(source))
    found = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        kinds = (tokenize.NAME, tokenize.STRING) + tuple(
            getattr(tokenize, k) for k in ("FSTRING_MIDDLE",) if hasattr(tokenize, k))
        if tok.type not in kinds:
            continue
        if tok.type == tokenize.STRING and tok.start[0] in docstrings:
            continue
        if PAPER_NAMES.search(tok.string):
            found.append((tok.start[0], tok.string))
    return found


def test_the_checker_sees_code_and_skips_docstrings():
    source = '''"""CoroNet [S4] in the module docstring."""
import os  # a comment about CVR-Net

def f():
    """CORONA-Net in a docstring."""
    coronet_size = 71
    return f"{coronet_size} for the paper"

TABLE = {"cvrnet/abstract": 1}
'''
    hits = paper_names_in_code(source)
    assert sorted({line for line, _ in hits}) == [6, 7, 9]


def test_core_code_names_no_paper():
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 20, f"expected the cxr_core modules under {CORE}"
    offences = []
    for path in modules:
        for line, token in paper_names_in_code(path.read_text(encoding="utf-8")):
            offences.append(f"{path.relative_to(CORE.parent)}:{line}: {token[:80]}")
    if offences:
        pytest.fail("paper names in cxr_core code (move them to the paper package / ModelFamily):\n"
                    + "\n".join(offences))
