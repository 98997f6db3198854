"""CVR-Net's data sets from the public sources: ``covid-cxr data build cvrnet-dataset1 ...`` (docs/PAPERS.md §2.3).

- ``cvrnet-dataset1`` (Tasks 1-3, X-ray): Kermany/Mooney (1,583 normal + 4,273 pneumonia = 2,780
  bacterial + 1,493 viral) and 500 COVID-19 X-rays of ieee8023 [CVR-P12], [CVR-RM-jul]. Written as
  ``task1/``, ``task2/``, ``task3/``, each with the authors' class folders [CVR-P12], [CVR-T]:
  Task-1 ``01_NOR`` (every Kermany image, pneumonia included: 5,856, INFERRED) and ``03_NCP`` (the
  notebook's folder; a comment says ``02_NCP``); Task-2 ``01_NOR``, ``02_CPN``, ``03_NCP``; Task-3
  ``01_NOR``, ``02_CPB``, ``03_CPV``, ``04_NCP``. The three tasks share their files (hard links
  inside OUT). Not stated by the authors: which 500 COVID-19 images (the collection has more today:
  the seed draws 500 frontal X-rays, as the ``coronet`` recipe; ``--counts all`` keeps all).
- ``cvrnet-dataset2`` (Task-4): its sources are not published (docs/PAPERS.md §2.3): the recipe stops
  with that message.
- ``cvrnet-dataset3`` (Task-5, CT): UCSD-AI4H COVID-CT with its official lists [CVR-P3]: ``train/``,
  ``valid/``, ``test/`` as the authors' notebook names them (COVID 191 / 60 / 98, NonCOVID
  234 / 58 / 105) and ``trainval/`` = train + valid, the README's "Train" (NOR 292, NCP 251,
  INFERRED), each with class folders ``NonCOVID/`` (NOR) and ``COVID/`` (NCP). The authors re-saved
  the images with PIL (``Image.open(...).save(...)`` [CVR-P3]); we copy the original bytes and the reader
  re-encodes the JPEGs as they did (``preprocess.jpeg_resave_quality: 75`` in experiments/cvrnet/task5*.yaml).
"""

from __future__ import annotations

import pandas as pd

from cxr_core.data.build.assemble import BuildPlan, Recipe, RecipeInputs, items_from_frame, undersample_frame
from cxr_core.data.build.sources import read_covid_ct, read_ieee8023, read_kermany

FRONTAL_VIEWS = ("PA", "AP", "AP Supine", "AP semi erect", "AP erect")
NCP_COUNT = 500

#: source label -> (class, authors' folder) per task [CVR-P12], [CVR-T]
TASK_FOLDERS: dict[int, dict[str, tuple[str, str]]] = {
    1: {"normal": ("NOR", "01_NOR"), "bacterial": ("NOR", "01_NOR"), "viral": ("NOR", "01_NOR"),
        "COVID-19": ("NCP", "03_NCP")},
    2: {"normal": ("NOR", "01_NOR"), "bacterial": ("CPN", "02_CPN"), "viral": ("CPN", "02_CPN"),
        "COVID-19": ("NCP", "03_NCP")},
    3: {"normal": ("NOR", "01_NOR"), "bacterial": ("CPB", "02_CPB"), "viral": ("CPV", "03_CPV"),
        "COVID-19": ("NCP", "04_NCP")},
}
#: published counts per task [CVR-P12] (docs/PAPERS.md §2.3)
DATASET1_COUNTS: dict[int, dict[str, int]] = {
    1: {"NOR": 5856, "NCP": 500},
    2: {"NOR": 1583, "CPN": 4273, "NCP": 500},
    3: {"NOR": 1583, "CPB": 2780, "CPV": 1493, "NCP": 500},
}
#: COVID-CT official lists [CVR-P3]; trainval = the README's Train (INFERRED)
DATASET3_COUNTS: dict[str, dict[str, int]] = {
    "train": {"NOR": 234, "NCP": 191},
    "valid": {"NOR": 58, "NCP": 60},
    "test": {"NOR": 105, "NCP": 98},
    "trainval": {"NOR": 292, "NCP": 251},
}
CT_FOLDERS = {"NonCOVID": ("NOR", "NonCOVID"), "COVID": ("NCP", "COVID")}


def plan_dataset1(inputs: RecipeInputs) -> BuildPlan:
    """Tasks 1-3 of Dataset-1 from ``ieee8023`` and ``kermany``."""
    plan = BuildPlan("cvrnet-dataset1")
    covid, kermany = read_ieee8023(inputs.sources["ieee8023"]), read_kermany(inputs.sources["kermany"])
    plan.add_source_skips(covid)
    plan.add_source_skips(kermany)
    f = covid.frame
    plan.skipped += [("ieee8023", r.path, f"finding {r.label!r} is not COVID-19 (metadata.csv line {r.line})")
                     for r in f[f["label"] != "COVID-19"].itertuples()]
    plan.skipped += [("ieee8023", r.path, f"view {r.view!r} is not frontal (metadata.csv line {r.line})")
                     for r in f[(f["label"] == "COVID-19") & ~f["view"].isin(FRONTAL_VIEWS)].itertuples()]
    ncp = f[(f["label"] == "COVID-19") & f["view"].isin(FRONTAL_VIEWS)]
    if inputs.counts == "published":
        ncp, notes = undersample_frame(ncp, {"COVID-19": NCP_COUNT}, inputs.seed)
        plan.notes.append(f"NCP: {NCP_COUNT} frontal COVID-19 X-rays of ieee8023 drawn with seed {inputs.seed} "
                          "(which 500 the authors used is not stated)")
        plan.notes += notes
    pool = pd.concat([ncp, kermany.frame], ignore_index=True)
    for task, mapping in TASK_FOLDERS.items():
        folders = {src: folder for src, (_, folder) in mapping.items()}
        labels = {folder: cls for cls, folder in mapping.values()}
        plan.items += items_from_frame(pool, folders, subset=f"task{task}", prefix=f"task{task}", label_of=labels)
        plan.published[f"task{task}"] = dict(DATASET1_COUNTS[task])
    plan.notes.append("task1/01_NOR holds every Kermany image, pneumonia included (5,856 = 1,583 + 4,273, "
                      "INFERRED [CVR-P12]); the three tasks share files through hard links inside OUT")
    return plan


def plan_dataset3(inputs: RecipeInputs) -> BuildPlan:
    """Task-5 (CT) from ``covid-ct`` with the official lists."""
    plan = BuildPlan("cvrnet-dataset3")
    ct = read_covid_ct(inputs.sources["covid-ct"])
    plan.add_source_skips(ct)
    frame = ct.frame
    plan.skipped += [("covid-ct", r.path, "in no official split list") for r in frame[frame["split"] == ""].itertuples()]
    folders = {src: folder for src, (_, folder) in CT_FOLDERS.items()}
    labels = {folder: cls for cls, folder in CT_FOLDERS.values()}
    subsets = {"train": ("train",), "valid": ("val",), "test": ("test",), "trainval": ("train", "val")}
    for subset, splits in subsets.items():
        part = frame[frame["split"].isin(splits)]
        plan.items += items_from_frame(part, folders, subset=subset, prefix=subset, label_of=labels)
        plan.published[subset] = dict(DATASET3_COUNTS[subset])
    plan.notes.append("trainval/ = train + valid, CVR-Net's README 'Train' (INFERRED [CVR-P3]); "
                      "use --data OUT/trainval --test-data OUT/test with experiments/cvrnet/task5.yaml")
    plan.notes.append("the authors re-saved each image with PIL [CVR-P3]; these are the original bytes "
                      "(task5.yaml's preprocess.jpeg_resave_quality: 75 re-encodes the JPEGs as they did when read)")
    return plan


RECIPES = {
    "cvrnet-dataset1": Recipe("cvrnet-dataset1", "CVR-Net Dataset-1, Tasks 1-3 (authors' folders 01_NOR ...)",
                              plan_dataset1, sources=("ieee8023", "kermany")),
    "cvrnet-dataset2": Recipe(
        "cvrnet-dataset2", "CVR-Net Dataset-2, Task-4 (NOR 1,648 / CPN 4,371 / NCP 500)", None, available=False,
        unavailable_reason="the sources of CVR-Net's Dataset-2 (Task-4: NOR 1,648, CPN 4,371, NCP 500) are not "
        "published in any retrieved text (docs/PAPERS.md §2.3), so it cannot be rebuilt; Dataset-1 "
        "(cvrnet-dataset1) has the same classes"),
    "cvrnet-dataset3": Recipe("cvrnet-dataset3", "CVR-Net Dataset-3, Task-5 CT (COVID-CT official train/valid/test)",
                              plan_dataset3, sources=("covid-ct",)),
}
