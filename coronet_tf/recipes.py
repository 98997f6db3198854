"""CoroNet's data set from the public sources: ``covid-cxr data build coronet ...`` [S4], [CN].

The paper [S4] (docs/PAPERS.md §1.3): COVID-19 from the COVID-19 image data collection (ieee8023,
"around 290" images), normal / bacterial / viral pneumonia from Kermany/Mooney's "Chest X-Ray Images
(Pneumonia)"; random under-sampling to Table I: 284 COVID-19, 310 normal, 330 bacterial, 327 viral
(1,251). The class folders are the authors' (``covid``, ``normal``, ``pneumonia_bac``,
``pneumonia_vir`` [CN]).

Choices the paper does not state (each one a note in BUILD.md):

- ieee8023: X-ray rows with a COVID-19 finding and a frontal view (``PA``, ``AP``, ``AP Supine``,
  ``AP semi erect``, ``AP erect``, the list COVID-Net used [CNet@1914bcb]); lateral views are left
  out because Kermany has none (a view-only shortcut otherwise). Today's collection has more
  COVID-19 X-rays than 284; the seed draws 284.
- Kermany: all three of its folders (train / test / val) form the pool; the draw is per class with
  :func:`cxr_core.data.build.assemble.undersample_frame` (``numpy.random.default_rng(seed)``), not the
  authors' unknown draw, so the exact 1,251 files cannot be reproduced.
- ``--counts all`` keeps the whole pool (no under-sampling).

Variants: ``coronet`` (4 classes), ``coronet-3class`` (``covid``, ``normal``, ``pneumonia`` = the
same 1,251 images with bacterial and viral pooled, 657 pneumonia [S4]) and ``coronet-binary``
(``covid``, ``normal``: our reading of the paper's ambiguous binary task, docs/PAPERS.md §1.7 item 5;
the same draw without the pneumonia images).

``coronet-dataset2``: Table VI's "Dataset-2" [S4], the data set "prepared by Ozturk et al.", read from
their release (source ``ozturk``, :mod:`cxr_core.data.build.ozturk_release`) with CoroNet's 3-class
folders (:func:`plan_dataset2`).
"""

from __future__ import annotations

import pandas as pd

from cxr_core.data.build.assemble import (BuildPlan, Recipe, RecipeInputs, items_from_frame, label_counts,
                                         undersample_frame)
from cxr_core.data.build.ozturk_release import read_ozturk
from cxr_core.data.build.sources import ieee8023_rows_by_file, read_ieee8023, read_kermany

from .presets import TABLE_I_COUNTS

FRONTAL_VIEWS = ("PA", "AP", "AP Supine", "AP semi erect", "AP erect")
#: source label -> CoroNet 4-class folder [CN]
FOUR_CLASS = {"COVID-19": "covid", "normal": "normal", "bacterial": "pneumonia_bac", "viral": "pneumonia_vir"}
VARIANT_FOLDERS = {
    4: FOUR_CLASS,
    3: {"COVID-19": "covid", "normal": "normal", "bacterial": "pneumonia", "viral": "pneumonia"},
    2: {"COVID-19": "covid", "normal": "normal"},
}


def coronet_pool(inputs: RecipeInputs, plan: BuildPlan) -> pd.DataFrame:
    """The 4-class pool (source labels ``COVID-19``, ``normal``, ``bacterial``, ``viral``)."""
    covid = read_ieee8023(inputs.sources["ieee8023"])
    kermany = read_kermany(inputs.sources["kermany"])
    plan.add_source_skips(covid)
    plan.add_source_skips(kermany)
    frame = covid.frame
    not_covid = frame[frame["label"] != "COVID-19"]
    lateral = frame[(frame["label"] == "COVID-19") & ~frame["view"].isin(FRONTAL_VIEWS)]
    plan.skipped += [("ieee8023", r.path, f"finding {r.label!r} is not COVID-19 (metadata.csv line {r.line})")
                     for r in not_covid.itertuples()]
    plan.skipped += [("ieee8023", r.path, f"view {r.view!r} is not frontal (metadata.csv line {r.line})")
                     for r in lateral.itertuples()]
    covid_rows = frame[(frame["label"] == "COVID-19") & frame["view"].isin(FRONTAL_VIEWS)]
    return pd.concat([covid_rows, kermany.frame], ignore_index=True)


def plan_coronet(inputs: RecipeInputs, num_classes: int = 4, recipe: str = "coronet") -> BuildPlan:
    """Plan CoroNet's ``num_classes`` data set (4, 3 or 2) from ``ieee8023`` and ``kermany``."""
    plan = BuildPlan(recipe)
    pool = coronet_pool(inputs, plan)
    pool_counts = pool["label"].map(FOUR_CLASS).value_counts().to_dict()
    plan.pool = {"": {k: int(v) for k, v in pool_counts.items()}}
    plan.notes.append("ieee8023: COVID-19 X-rays with a frontal view (PA, AP, AP Supine, AP semi erect, "
                      "AP erect), as COVID-Net's list; the paper does not state the views")
    plan.notes.append(f"pool: {plan.pool['']} (paper's pool [S4]: 1203 normal, 660 bacterial, 931 viral, "
                      "'around 290' COVID-19; Kermany's folders hold 1583 / 2780 / 1493)")
    if inputs.counts == "published":
        wanted = {src: TABLE_I_COUNTS[folder] for src, folder in FOUR_CLASS.items()}
        chosen, notes = undersample_frame(pool, wanted, inputs.seed)
        plan.notes.append(f"undersampled to Table I [S4] with seed {inputs.seed} "
                          "(numpy default_rng, classes in sorted order, files in path order)")
        plan.notes += notes
    else:
        chosen = pool
        plan.notes.append("--counts all: the whole pool, no under-sampling")
    folders = VARIANT_FOLDERS[num_classes]
    dropped = chosen[~chosen["label"].isin(list(folders))]
    plan.skipped += [(r.source, r.path, f"{r.label} images are not part of the {num_classes}-class task")
                     for r in dropped.itertuples()]
    chosen = chosen[chosen["label"].isin(list(folders))]
    plan.items = items_from_frame(chosen, folders)
    if inputs.counts == "published":
        published: dict[str, int] = {}
        for src, folder in folders.items():
            published[folder] = published.get(folder, 0) + TABLE_I_COUNTS[FOUR_CLASS[src]]
        plan.published = {"": published}
    plan.notes.append(f"built: {label_counts(plan.items)['']}")
    return plan


#: Ozturk et al.'s class folders [OZ@ee3e2cf] -> CoroNet's 3-class folders (the coronet/paper_3class classes).
DATASET2_FOLDERS = {"Covid-19": "covid", "No_findings": "normal", "Pneumonia": "pneumonia"}
#: "around 500 normal, 500 pneumonia and 157 COVID-19" [S4]; the release holds 125 COVID-19 [OZ@ee3e2cf].
DATASET2_COUNTS = {"covid": 157, "normal": 500, "pneumonia": 500}


def plan_dataset2(inputs: RecipeInputs) -> BuildPlan:
    """Plan Table VI's Dataset-2 [S4] from Ozturk et al.'s release (``ozturk``), every image kept.

    CoroNet's paper calls it "prepared by Ozturk et al." with "around 500 normal, 500 pneumonia and 157
    COVID-19" images and "same COVID-19 X-ray images as in our prepared dataset" [S4]; the release
    holds 500 / 500 / 125 [OZ@ee3e2cf]. Which 32 COVID-19 images would make 157 is not stated, so none
    are added: BUILD.md shows 125 found beside the published 157 (``--counts all`` drops the comparison).
    With ``ieee8023`` (the COVID-19 image data collection, optional) each COVID-19 image gets the
    collection's patient by file name; an image the collection does not name, or names with a
    finding other than COVID-19, is kept and listed in the notes.
    """
    plan = BuildPlan("coronet-dataset2")
    release = read_ozturk(inputs.sources["ozturk"])
    plan.add_source_skips(release)
    frame = release.frame.copy()
    plan.pool = {"": {DATASET2_FOLDERS[k]: v for k, v in release.label_counts().items()}}
    covid = frame["label"] == "Covid-19"
    plan.notes.append(f"Dataset-2 [S4] = Ozturk et al.'s release [OZ@ee3e2cf], all images; the paper's 'around 500 "
                      f"normal, 500 pneumonia and 157 COVID-19' has {DATASET2_COUNTS['covid'] - int(covid.sum())} "
                      "COVID-19 images more than found here (the release holds 125; which others the paper used is "
                      "not stated: none added)")
    if "ieee8023" in inputs.sources:
        rows = ieee8023_rows_by_file(inputs.sources["ieee8023"])
        unnamed, other, two_patients = [], [], []
        for i in frame.index[covid]:
            name = frame.at[i, "file_name"]
            row = rows.get(name)
            if row is None:
                unnamed.append(name)
                continue
            frame.at[i, "patient_id"] = row["patient_id"]
            if row["also"]:
                two_patients.append(f"{name} ({row['patient_id']}, line {row['line']}, kept; also "
                                    + ", ".join(f"{p} line {ln}" for p, ln in row["also"]) + ")")
            if "COVID-19" not in row["finding"]:
                other.append(f"{name} ({row['finding']!r}, metadata.csv line {row['line']})")
        plan.notes.append(f"ieee8023: patient ids of {int(covid.sum()) - len(unnamed)} of {int(covid.sum())} COVID-19 "
                          f"images joined by file name from metadata.csv "
                          f"({frame.loc[covid, 'patient_id'].nunique()} patients)")
        if unnamed:
            plan.notes.append(f"ieee8023: {len(unnamed)} COVID-19 images are not named in its metadata.csv "
                              f"(kept, no patient id): {', '.join(sorted(unnamed))}")
        if two_patients:
            plan.notes.append(f"ieee8023: {len(two_patients)} COVID-19 images are named by metadata.csv rows of two "
                              f"patients (the first row's patient is used): {', '.join(sorted(two_patients))}")
        if other:
            plan.notes.append(f"ieee8023: {len(other)} images of the release's Covid-19 folder have a finding without "
                              f"COVID-19 in metadata.csv (kept as covid, as released): {', '.join(sorted(other))}")
    else:
        plan.notes.append("COVID-19 images have no patient id: give --source ieee8023=PATH (the COVID-19 image data "
                          "collection) to join its patientid by file name")
    plan.items = items_from_frame(frame, DATASET2_FOLDERS)
    if inputs.counts == "published":
        plan.published = {"": dict(DATASET2_COUNTS)}
    plan.notes.append(f"built: {label_counts(plan.items)['']}")
    return plan


def _recipe(num_classes: int, name: str, description: str) -> Recipe:
    return Recipe(name=name, description=description,
                  plan=lambda inputs: plan_coronet(inputs, num_classes, name),
                  sources=("ieee8023", "kermany"))


RECIPES = {
    "coronet": _recipe(4, "coronet", "CoroNet 4 classes (covid / normal / pneumonia_bac / pneumonia_vir), "
                       "Table I counts 284 / 310 / 330 / 327 [S4]"),
    "coronet-3class": _recipe(3, "coronet-3class", "CoroNet 3 classes (covid / normal / pneumonia), "
                              "the Table I images with pneumonia pooled [S4]"),
    "coronet-binary": _recipe(2, "coronet-binary", "CoroNet binary (covid / normal), the Table I covid and "
                              "normal images (our reading of the binary task, docs/PAPERS.md §1.7 item 5)"),
    "coronet-dataset2": Recipe(
        name="coronet-dataset2", plan=plan_dataset2, sources=("ozturk",), optional_sources=("ieee8023",),
        description="CoroNet Table VI's Dataset-2 (covid / normal / pneumonia): Ozturk et al.'s release, "
                    "125 / 500 / 500 [OZ@ee3e2cf] (the paper says 157 COVID-19 [S4]); ieee8023 adds patient ids"),
}
