"""cxr_core.seeds: the derivations keep the values runs were made with (same seed, same results)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cxr_core import seeds

CORE = Path(__file__).resolve().parents[2] / "cxr_core"


def test_derivations_keep_their_historical_values():
    # the values of the expressions the code used before they were named (fit_fold, run_fold, build_dataset,
    # keras2_fit_plan, split_files): changing one changes every seeded run
    assert seeds.fold_seed(42, 3) == 45
    assert seeds.train_data_seed(45) == 45 and seeds.train_data_seed(45, 2) == 45 + 2 * 7919
    assert seeds.validation_data_seed(45) == 46 and seeds.validation_data_seed(45, 2) == 46 + 2 * 7919
    assert seeds.augmentation_seed(5) == 5 + 7919
    assert seeds.inner_validation_seed(7, 2) == 1009


def test_table_names_every_function():
    public = [n for n in seeds.__all__ if callable(getattr(seeds, n))]
    for name in public:
        assert f":func:`{name}`" in seeds.__doc__


def test_no_seed_arithmetic_outside_the_seeds_module():
    """``seed + <number>`` / ``seed + fold`` written anywhere else in cxr_core is a second definition."""
    pattern = re.compile(r"\bseed\s*\+\s*(\d|fold|1000|7919)|7919")
    offenders = []
    for path in CORE.rglob("*.py"):
        if path.name == "seeds.py":
            continue
        code = ast.unparse(ast.parse(path.read_text()))  # without comments and docstrings' layout
        tree = ast.parse(code)
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and pattern.search(ast.unparse(node)):
                offenders.append(f"{path.relative_to(CORE)}: {ast.unparse(node)}")
    assert not offenders, offenders
