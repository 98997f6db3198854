"""The COVIDx recipe with COVID-Net's real split files (../shared/data/sources/COVID-Net/labels), issue 17, part 3."""

from __future__ import annotations

import re

import pytest

from coronanet_tf import FAMILY
from cxr_core.cli.main import main
from cxr_core.data.build.assemble import RecipeInputs


def _own_counts(split_file):
    """Distinct files per label, read with nothing but str.split (label = the field before a source, else last)."""
    files: dict[str, set[str]] = {}
    for line in split_file.read_text().splitlines():
        f = line.split()
        if not f:
            continue
        label, name = (f[-2], f[-3]) if f[-1] not in ("normal", "pneumonia", "COVID-19", "positive", "negative") else (f[-1], f[-2])
        files.setdefault(label, set()).add(name)
    return {k: len(v) for k, v in files.items()}


def _plan(real_sources, *names):
    labels = real_sources / "COVID-Net" / "labels"
    inputs = RecipeInputs({}, split_files=tuple(labels / n for n in names))  # no source: only the rows are read
    return FAMILY.data.recipes["covidx"].plan(inputs)


@pytest.mark.slow
def test_expected_counts_are_the_split_files_own(real_sources):
    labels = real_sources / "COVID-Net" / "labels"
    plan = _plan(real_sources, "train_COVIDx9A.txt", "test_COVIDx9A.txt")
    assert plan.expected_from == "split file"
    assert plan.published == {"train": _own_counts(labels / "train_COVIDx9A.txt"),
                              "test": _own_counts(labels / "test_COVIDx9A.txt")}
    v1 = _plan(real_sources, "train_COVIDx.txt", "test_COVIDx.txt")
    # COVIDx v1's own counts are the published ones [CR-S]: 7,966 / 5,435 / 66 and 100 / 100 / 10
    assert v1.published == {"train": {"normal": 7966, "pneumonia": 5435, "COVID-19": 66},
                            "test": {"normal": 100, "pneumonia": 100, "COVID-19": 10}}
    assert not [n for n in v1.notes if "differ from the published" in n]


def test_covid_net_spellings_get_advice_the_recipe_accepts(real_sources):
    plan = _plan(real_sources, "train_COVIDx9B.txt")
    recipe = FAMILY.data.recipes["covidx"]
    accepted = set(recipe.sources + recipe.optional_sources)
    advised = {m for _, _, why in plan.skipped for m in re.findall(r"--source (\S+)=PATH", why)}
    assert {"rsna", "ricord", "stonybrook", "bimcv"} <= advised <= accepted  # 'rnsa' rows of v9B -> rsna
    assert "rnsa" not in advised


@pytest.mark.slow
def test_covidx_9a_build_says_test_is_empty_and_the_shortfall(real_sources, tmp_path, capsys):
    labels = real_sources / "COVID-Net" / "labels"
    out = tmp_path / "covidx"
    rc = main(["data", "build", "covidx", "--split-file", str(labels / "train_COVIDx9A.txt"), "--split-file",
               str(labels / "test_COVIDx9A.txt"), "--source", f"ieee8023={real_sources / 'covid-chestxray-dataset'}",
               "--out", str(out)])
    console = capsys.readouterr().out
    n_test = sum(_own_counts(labels / "test_COVIDx9A.txt").values())
    assert rc == 0 and f"EMPTY: test/ is empty: none of its {n_test} expected images was found" in console
    assert "shortfall against the split file counts:" in console and console.rstrip().splitlines()[-1].startswith("  ")
    md = (out / "BUILD.md").read_text()
    assert "## Empty" in md and "test/ is empty" in md and "expected (split file)" in md
