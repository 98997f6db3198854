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
"""

from __future__ import annotations

import pandas as pd

from cxr_core.data.build.assemble import BuildPlan, Recipe, RecipeInputs, items_from_frame, label_counts, undersample_frame
from cxr_core.data.build.sources import read_ieee8023, read_kermany

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
}
