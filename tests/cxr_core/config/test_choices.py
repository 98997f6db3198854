"""cxr_core.config.choices: each closed set of values written once, used by the config, the CLI and the code."""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from cxr_core.config import choices

CORE = Path(__file__).resolve().parents[3] / "cxr_core"
LITERALS = {name: value for name, value in vars(choices).items() if typing.get_origin(value) is typing.Literal}


def test_every_tuple_is_its_literals_values():
    assert len(LITERALS) == 15
    for name, literal in LITERALS.items():
        tuples = [t for t in vars(choices).values() if isinstance(t, tuple) and t == typing.get_args(literal)]
        assert tuples, f"no tuple derived from {name}"


def _string_sets(tree: ast.AST):
    """Each ``Literal[...]`` and each tuple / list display of 2+ strings in a module, as a tuple."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and getattr(node.value, "id", None) == "Literal":
            elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        elif isinstance(node, (ast.Tuple, ast.List)):
            elts = node.elts
        else:
            continue
        if len(elts) >= 2 and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts):
            yield node.lineno, tuple(e.value for e in elts)


def test_no_choice_list_is_written_a_second_time():
    declared = {typing.get_args(lit): name for name, lit in LITERALS.items()}
    copies = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "choices.py":
            continue
        for line, values in _string_sets(ast.parse(path.read_text())):
            if values in declared:
                copies.append(f"{path.relative_to(CORE)}:{line} repeats {declared[values]}")
    assert not copies, copies


@pytest.mark.parametrize("option, values", [("--mixed-precision", choices.MIXED_PRECISIONS),
                                            ("--strategy", choices.STRATEGIES)])
def test_cli_choices_are_the_tuples(option, values):
    from cxr_core.cli.main import build_parser

    cv = build_parser()._subparsers._group_actions[0].choices["cv"]
    action = next(a for a in cv._actions if option in a.option_strings)
    assert tuple(action.choices) == values


def test_consumers_accept_every_value_and_refuse_others():
    import numpy as np

    from cxr_core.data.decode.images import scale_pixels
    from cxr_core.data.decode.resize import resize_uint8
    from cxr_core.errors import CxrError
    from cxr_core.training.precision import resolve_precision

    image = np.full((6, 6, 3), 100, np.uint8)
    for method in choices.RESIZE_METHODS:
        assert tuple(resize_uint8(image, (4, 4), method).shape) == (4, 4, 3)
    for scaling in choices.SCALINGS:
        assert scale_pixels(image[None].astype("float32"), scaling).shape == (1, 6, 6, 3)
    for policy in choices.MIXED_PRECISIONS:
        assert resolve_precision(policy) in ("float32", "mixed_float16", "mixed_bfloat16")
    with pytest.raises(CxrError):
        resolve_precision("float16")
    with pytest.raises(ValueError):
        resize_uint8(image, (4, 4), "cubic")
