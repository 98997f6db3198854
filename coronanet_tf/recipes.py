"""CORONA-Net's data (COVIDx) from COVID-Net's split files: ``covid-cxr data build covidx ...`` [CR], [S0].

CORONA-Net trains on COVIDx built with COVID-Net's ``create_COVIDx`` notebooks [CR README] and reads
``./data/{train,test}/`` with the split files beside them [CR-A]. This recipe takes the split files
(``--split-file``, repeatable: ``train_COVIDx.txt``, ``test_COVIDx.txt``, ``test_split_v2.txt/.csv`` ...),
finds each listed file by name under the named sources and writes ``train/`` and ``test/`` (a split
file whose name contains ``test`` fills ``test/``); see :mod:`cxr_core.data.build.covidx` for the rows'
parsing and COVIDx's conversions (RSNA DICOM -> 8-bit PNG, Radiography Database -> gray PNG).

BUILD.md's "expected" column is each split file's own distinct files per label; published image counts
checked against them (a note when they differ), by split file name (distinct files per label,
docs/PAPERS.md §3.3, §4): ``train_COVIDx.txt`` 7,966 / 5,435 / 66 (normal / pneumonia / COVID-19; 16,546
rows), ``test_COVIDx.txt`` 100 / 100 / 10, ``test_split_v2`` 885 / 594 / 10 [CR-S], [CNet@61a5963].
"""

from __future__ import annotations

from pathlib import Path

from cxr_core.data.build.assemble import BuildPlan, Recipe, RecipeInputs
from cxr_core.data.build.covidx import COVIDX_SOURCE_NAMES, plan_covidx, read_covidx_rows, split_file_counts

#: distinct files per label of the split files CORONA-Net ships [CR-S] (docs/PAPERS.md §3.3)
SPLIT_FILE_COUNTS: dict[str, dict[str, int]] = {
    "train_covidx.txt": {"normal": 7966, "pneumonia": 5435, "COVID-19": 66},
    "test_covidx.txt": {"normal": 100, "pneumonia": 100, "COVID-19": 10},
    "test_split_v2.txt": {"normal": 885, "pneumonia": 594, "COVID-19": 10},
    "test_split_v2.csv": {"normal": 885, "pneumonia": 594, "COVID-19": 10},
}
COVIDX_SOURCES = COVIDX_SOURCE_NAMES  # COVID-Net's spellings mapped (rnsa -> rsna); ricord, stonybrook, bimcv too


def plan_covidx_recipe(inputs: RecipeInputs) -> BuildPlan:
    """COVIDx from ``inputs.split_files`` and the given sources; each subset is compared with its split
    files' own counts, and a split file with published counts is checked against them (a note)."""
    plan = plan_covidx("covidx", inputs.split_files, inputs.sources)
    for split in inputs.split_files:
        counts = SPLIT_FILE_COUNTS.get(Path(split).name.lower())
        if counts is None:
            continue
        own = split_file_counts(read_covidx_rows(split))
        if own != counts:
            plan.notes.append(f"{Path(split).name}: its own counts {own} differ from the published {counts}")
    plan.notes.append("repeated rows of a split file are written once; read them back with "
                      "data.drop_duplicates (true / keep) as CORONA-Net's loader does [CR-A]")
    return plan


RECIPES = {
    "covidx": Recipe("covidx", "COVIDx train/ and test/ from COVID-Net split files (--split-file, repeatable)",
                     plan_covidx_recipe, sources=(), optional_sources=COVIDX_SOURCES, uses_split_files=True),
}
