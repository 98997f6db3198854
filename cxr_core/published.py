"""Published results of the three papers (and COVID-Net / COVIDx) as data, with their sources.

Every table is copied from ``spec/PAPERS.md`` (§1.5 CoroNet, §2.5 CVR-Net, §3.5 CORONA-Net,
§4 COVID-Net) and carries its source tag ([S4] = CoroNet paper, [CN-old] = CoroNet notebook outputs,
[S2] = CVR-Net abstract, [CVR-T] = CVR-Net notebook outputs, [VIP] = CORONA-Net project page,
[PG] = published abstracts, [CNet@x] = COVID-Net repository at commit x).

``published_table(key)`` returns a fresh DataFrame; ``df.attrs`` holds ``key``, ``title``,
``source``, ``notes``, ``layout`` and ``units``, and for fold tables ``companion`` (the class-wise
table of the same experiment). Layouts:

* ``folds``: rows ``fold 1`` .. ``fold k`` and ``mean``; columns as :func:`cxr_core.metrics.fold_table`.
* ``classwise``: one row per class; columns as :func:`cxr_core.metrics.classwise_table`.
* ``summary``: one row per model / task / experiment.
* ``report``: a scikit-learn ``classification_report`` as printed (fractions).
* ``confusion``: a confusion matrix, rows true, columns predicted.

Row labels are the papers' own (e.g. "COVID-19", "Pneumonia bacterial"); the CoroNet paper's "avg"
row is named ``mean`` to line up with our tables. Nothing here is computed except where a note says
INFERRED.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxr_core.metrics import CLASSWISE_COLUMNS, TABLE_COLUMNS

_NAN = float("nan")


@dataclass(frozen=True)
class PublishedTable:
    """One published table: values plus where they come from."""

    key: str
    title: str
    source: str
    layout: str
    units: str
    index: tuple[str, ...]
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]
    notes: str = ""
    companion: str | None = None
    extra: tuple[tuple[str, object], ...] = ()

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame([list(r) for r in self.rows], index=list(self.index),
                          columns=list(self.columns))
        df.attrs.update(key=self.key, title=self.title, source=self.source, notes=self.notes,
                        layout=self.layout, units=self.units, companion=self.companion)
        df.attrs.update(dict(self.extra))
        return df


_FOLD_COLS = TABLE_COLUMNS  # the columns of cxr_core.metrics.fold_table / classwise_table
_CLASS_COLS = CLASSWISE_COLUMNS
_REPORT_COLS = ("precision", "recall", "f1", "support")
_COVIDNET_COLS = ("test set", "sensitivity Normal", "sensitivity Pneumonia", "sensitivity COVID-19",
                  "PPV Normal", "PPV Pneumonia", "PPV COVID-19")

_TABLES: tuple[PublishedTable, ...] = (
    # ------------------------------------------------------------------ CoroNet (PAPERS.md §1.5)
    PublishedTable(
        key="coronet/table3", title="CoroNet 4-class, per fold (4-fold CV)",
        source="[S4] Table III", layout="folds", units="percent",
        index=("fold 1", "fold 2", "fold 3", "fold 4", "mean"), columns=_FOLD_COLS,
        rows=((88, 87.7, 95.7, 87.6, 87.3), (90.8, 90.7, 96.7, 90.7, 90),
              (88.9, 89, 96.2, 88.9, 89.1), (92.5, 92.2, 97.3, 92.1, 92.26),
              (90, 89.92, 96.4, 89.8, 89.6)),
        notes=("Paper row 'avg' renamed 'mean'. The paper does not say how precision/recall/"
               "specificity/F-measure are averaged over classes (macro assumed; not stated in [S4]). "
               "4-fold CV on 1,251 images [S4]; the authors' code used a holdout split instead [CN]."),
        companion="coronet/table4"),
    PublishedTable(
        key="coronet/table4", title="CoroNet 4-class, class-wise (average over folds)",
        source="[S4] Table IV", layout="classwise", units="percent",
        index=("COVID-19", "Normal", "Pneumonia bacterial", "Pneumonia viral"), columns=_CLASS_COLS,
        rows=((93.17, 98.25, 97.9, 95.61), (95.25, 93.5, 98.1, 94.3), (86.85, 85.9, 95, 86.3),
              (84.1, 82.1, 94.8, 83.1)),
        notes="Text: COVID-19 class accuracy 96.6%, precision 93.17, recall 98.25, F1 95.6 [S4].",
        extra=(("covid_class_accuracy", 96.6),)),
    PublishedTable(
        key="coronet/table5", title="CoroNet 4-class, 3-class and binary summary",
        source="[S4] Table V", layout="summary", units="percent",
        index=("4-class", "3-class", "binary"), columns=_FOLD_COLS,
        rows=((90, 89.92, 96.4, 89.8, 89.6), (95, 96.9, 97.5, 95.6, 95),
              (98.3, 99.3, 98.6, 98.5, 99)),
        notes=("3-class: paper fine-tunes the 4-class model, code trains a fresh Dense(3). Binary "
               "classes ambiguous ('COVID-19, Normal and Pneumonia'). Discussion gives 89.5 / 94.59 "
               "/ 99 [S4]; README 89.5 [CN] (PAPERS.md §1.7 items 5, 7).")),
    PublishedTable(
        key="coronet/table6", title="CoroNet on Dataset-2 of Ozturk et al. (3 classes)",
        source="[S4] Table VI", layout="classwise", units="percent",
        index=("COVID-19", "Normal", "Pneumonia", "Average"), columns=_CLASS_COLS,
        rows=((97, 89, 99.6, 93), (92, 85, 97.7, 89), (87, 95, 88.7, 91), (92, 90, 95.3, 91)),
        notes=("Paper labels the third row 'Pneumonia Bacterial'; the dataset's class is Pneumonia. "
               "Overall accuracy 90.21% [S4]."),
        extra=(("accuracy", 90.21),)),
    PublishedTable(
        key="coronet/table7", title="CoroNet comparison with other studies (accuracy, params)",
        source="[S4] Table VII", layout="summary", units="percent",
        index=("Ioannis et al. VGG19", "Ioannis et al. Xception", "Wang & Wong COVID-Net",
               "Sethy & Behra ResNet-50", "Hemdan et al. VGG19", "Narin et al. ResNet-50",
               "Narin et al. InceptionV3", "Ozturk et al. DarkNet", "CoroNet Xception"),
        columns=("accuracy 3-class", "accuracy 2-class", "params (M)"),
        rows=((93.48, 98.75, 143), (92.85, 85.57, 33), (_NAN, 92.4, 116), (_NAN, 95.38, 36),
              (_NAN, 90, 143), (_NAN, 98, 36), (_NAN, 97, 26), (87.02, 98.08, 1.1), (89.6, 99, 33)),
        notes=("NA in the paper -> NaN. CoroNet's '3-class' 89.6 is its 4-class accuracy (sic). "
               "Reference numbers [41]-[45] are absent from the paper's reference list.")),
    PublishedTable(
        key="coronet/table8", title="CoroNet vs COVID-Net, 4-class, per class",
        source="[S4] Table VIII", layout="summary", units="percent",
        index=("COVID-19", "Normal", "Pneumonia bacterial", "Pneumonia viral"),
        columns=("COVID-Net Precision", "COVID-Net Recall", "COVID-Net F-measure",
                 "CoroNet Precision", "CoroNet Recall", "CoroNet F-measure"),
        rows=((80, 100, 88.8, 93.17, 98.25, 95.61), (95.1, 73.9, 83.17, 95.25, 93.5, 94.3),
              (87.1, 93.1, 90, 86.85, 85.9, 86.3), (67.0, 81.9, 73.7, 84.1, 82.1, 83.1)),
        notes=("COVID-Net numbers = COVID-Net v1 README PPV/sensitivity [CNet@5c699ce]. Params / "
               "accuracy: COVID-Net 116 M / 83.5%, CoroNet 33 M / 89.6%."),
        extra=(("accuracy", {"COVID-Net": 83.5, "CoroNet": 89.6}),)),
    PublishedTable(
        key="coronet/notebook_report",
        title="CoroNet notebook test report (4-class .h5, 242-image test dir)",
        source="[CN-old] Covid19_CXR_Classification.ipynb @37669de", layout="report",
        units="fraction",
        index=("covid", "normal", "pneumonia_bac", "pneumonia_vir", "accuracy", "macro avg",
               "weighted avg"),
        columns=_REPORT_COLS,
        rows=((1.00, 1.00, 1.00, 20), (0.89, 1.00, 0.94, 77), (0.89, 0.79, 0.84, 75),
              (0.87, 0.86, 0.86, 70), (_NAN, _NAN, 0.89, 242), (0.91, 0.91, 0.91, 242),
              (0.89, 0.89, 0.89, 242)),
        notes=("sklearn classification_report as printed (2 decimals); the accuracy row has only "
               "the f1 column, like sklearn. Confusion matrix: 'coronet/notebook_confusion'. The "
               "same notebook run's evaluate_generator gave test acc 0.7975 (different model)."),
        companion="coronet/notebook_confusion"),
    PublishedTable(
        key="coronet/notebook_confusion", title="CoroNet notebook test confusion matrix",
        source="[CN-old] Covid19_CXR_Classification.ipynb @37669de", layout="confusion",
        units="count",
        index=("covid", "normal", "pneumonia_bac", "pneumonia_vir"),
        columns=("covid", "normal", "pneumonia_bac", "pneumonia_vir"),
        rows=((20, 0, 0, 0), (0, 77, 0, 0), (0, 7, 59, 9), (0, 3, 7, 60)),
        notes="Rows true, columns predicted (sklearn confusion_matrix)."),
    # ------------------------------------------------------------------ CVR-Net (PAPERS.md §2.5)
    PublishedTable(
        key="cvrnet/abstract", title="CVR-Net task results (abstract)",
        source="[S2] abstract", layout="summary", units="fraction",
        index=("task 1", "task 2", "task 3", "task 4", "task 5"),
        columns=("classes", "dataset", "F1", "accuracy"),
        rows=((2, "Dataset-1", 0.997, 0.998), (3, "Dataset-1", 0.963, 0.964),
              (4, "Dataset-1", 0.816, 0.820), (3, "Dataset-2", 0.961, 0.961),
              (2, "Dataset-3 (CT)", 0.780, 0.780)),
        notes=("Averaging of F1 not stated (weighted vs macro; fold mean vs pooled; PAPERS.md §2.7 "
               "item 7). README Jul-2020: 99.8%, 96.4%, 78.0% [CVR-RM-jul]. Paper tables NOT "
               "RETRIEVED.")),
    PublishedTable(
        key="cvrnet/task1_fold2_report", title="CVR-Net notebook Task-1 fold-2 test report",
        source="[CVR-T] Train_and_Evaluate_CVR-Net.ipynb @f70d2ca", layout="report",
        units="fraction",
        index=("NOR", "NCP", "accuracy", "macro avg", "weighted avg"), columns=_REPORT_COLS,
        rows=((0.998, 0.999, 0.999, 1176), (0.990, 0.980, 0.985, 101), (_NAN, _NAN, 0.998, 1277),
              (0.994, 0.990, 0.992, 1277), (0.998, 0.998, 0.998, 1277)),
        notes=("1,277 test images; NOR includes non-COVID pneumonia. Implied confusion matrix "
               "'cvrnet/task1_fold2_confusion' (INFERRED)."),
        companion="cvrnet/task1_fold2_confusion"),
    PublishedTable(
        key="cvrnet/task1_fold2_confusion",
        title="CVR-Net Task-1 fold-2 confusion matrix implied by the report (INFERRED)",
        source="[CVR-T] (INFERRED)", layout="confusion", units="count",
        index=("NOR", "NCP"), columns=("NOR", "NCP"), rows=((1175, 1), (2, 99)),
        notes="Accuracy 1274/1277 = 0.99765; reproduces every figure of the report to 3 decimals."),
    # ------------------------------------------------------------------ CORONA-Net (PAPERS.md §3.5)
    PublishedTable(
        key="coronanet/confusion", title="CORONA-Net project-page confusion matrix (row-normalised)",
        source="[VIP] images/confusionlabel.png", layout="confusion", units="fraction",
        index=("COVID-19", "Pneumonia", "Normal"), columns=("COVID-19", "Pneumonia", "Normal"),
        rows=((1.00, 0.00, 0.00), (0.00, 0.95, 0.05), (0.00, 0.04, 0.95)),
        notes=("Rows true, columns predicted, each row sums to ~1. Gives 95.24% on 10/100/100 and "
               "96.67% on 100/100/100 test images, so it is not the run behind the journal's 95.84% "
               "(INFERRED).")),
    PublishedTable(
        key="coronanet/table5_ppv", title="CORONA-Net project page 'TABLE 5' (PPV, as printed)",
        source="[VIP] images/ppv.jpg", layout="summary", units="percent",
        index=("VGG-19", "ResNet-50", "COVID-Net", "CORONA-Net"),
        columns=("COVID-19", "Pneumonia", "Normal"),
        rows=((83.1, 75.0, 98.4), (88.2, 86.8, 98.8), (90.5, 91.3, 98.9), (100, 96.0, 99.0)),
        notes=("Captioned 'Comparison of Accuracy' but the values are PPV. The baselines' column "
               "labels are reversed (Normal <-> COVID-19): the COVID-Net row equals COVIDNet-CXR3-B "
               "PPV Normal 90.5 / Pneumonia 91.3 / COVID-19 98.9 [CNet@0134049] (INFERRED; see "
               "'coronanet/table5_ppv_relabelled'). From the project-page confusion matrix with "
               "100 normal / 100 pneumonia, PPV pneumonia = 96.0 (matches) but Normal = 95.0 "
               "(table: 99.0)."),
        companion="coronanet/table5_ppv_relabelled"),
    PublishedTable(
        key="coronanet/table5_ppv_relabelled",
        title="CORONA-Net 'TABLE 5' PPV with the baselines' Normal/COVID-19 columns swapped (INFERRED)",
        source="[VIP] images/ppv.jpg + [CNet@0134049] (INFERRED)", layout="summary", units="percent",
        index=("VGG-19", "ResNet-50", "COVID-Net", "CORONA-Net"),
        columns=("COVID-19", "Pneumonia", "Normal"),
        rows=((98.4, 75.0, 83.1), (98.8, 86.8, 88.2), (98.9, 91.3, 90.5), (100, 96.0, 99.0)),
        notes=("Baseline rows' first and last columns swapped; CORONA-Net row as printed (its "
               "COVID-19 PPV 100 agrees with the confusion matrix). VGG-19/ResNet-50 rows are "
               "assumed to follow the same order (UNVERIFIED).")),
    PublishedTable(
        key="coronanet/accuracy", title="CORONA-Net overall accuracy on COVIDx (journal abstract)",
        source="[PG] J Imaging 2021 7(5):81 abstract", layout="summary", units="percent",
        index=("CORONA-Net",), columns=("Accuracy",), rows=((95.84,),),
        notes=("Test set not stated: 1427/1489 or 7487/7812 of test_split_v2 fit; the official "
               "COVIDx test sets (210/231/300) do not (INFERRED; PAPERS.md §3.7 item 1).")),
    # ------------------------------------------------------------------ COVID-Net (PAPERS.md §4)
    PublishedTable(
        key="covidnet/results", title="COVID-Net 3-class sensitivity / PPV by model version",
        source="[CNet] README at the commits of PAPERS.md §4", layout="summary", units="percent",
        index=("COVID-Net Small", "COVID-Net Large", "COVIDNet-CXR Small", "COVIDNet-CXR Large",
               "COVIDNet-CXR3-A", "COVIDNet-CXR3-B", "COVIDNet-CXR3-C"),
        columns=_COVIDNET_COLS,
        rows=(("v2 (210)", 95.0, 91.0, 80.0, 91.3, 93.8, 88.9),
              ("v2 (210)", 94.0, 90.0, 90.0, 90.4, 93.8, 90.0),
              ("COVIDx2 (231)", 97.0, 90.0, 87.1, 89.8, 94.7, 96.4),
              ("COVIDx2 (231)", 99.0, 89.0, 96.8, 91.7, 98.9, 90.9),
              ("COVIDx3 (300)", 93.0, 93.0, 94.0, 92.1, 90.3, 97.9),
              ("COVIDx3 (300)", 95.0, 94.0, 91.0, 90.5, 91.3, 98.9),
              ("COVIDx3 (300)", 92.0, 90.0, 95.0, 90.2, 91.8, 95.0)),
        notes=("COVID-Net Small/Large: 116.6 M / 126.6 M params, 2.26 / 3.59 GMACs [CNet@61a5963]. "
               "4-class v1 figures: 'covidnet/v1_4class'.")),
    PublishedTable(
        key="covidnet/v1_4class", title="COVID-Net v1 4-class sensitivity / PPV",
        source="[CNet@5c699ce] README", layout="classwise", units="percent",
        index=("Normal", "Pneumonia bacterial", "Pneumonia viral", "COVID-19"),
        columns=("Recall", "Precision"),
        rows=((73.9, 95.1), (93.1, 87.1), (81.9, 67.0), (100.0, 80.0)),
        notes=("Sensitivity = Recall, PPV = Precision. README: 'still from the previous COVIDx "
               "dataset with 8 COVID test samples'. Quoted in CoroNet Table VIII [S4].")),
    PublishedTable(
        key="covidx/image_counts", title="COVIDx image counts by version",
        source="[CNet] create_COVIDx / README at the listed commits", layout="summary",
        units="count",
        index=("v1 (55406b3)", "v2 (61a5963)", "COVIDx2 (46b4b00)", "COVIDx3 (0134049)",
               "COVIDx4 (2168765)"),
        columns=("train normal", "train pneumonia", "train COVID-19", "train total", "test normal",
                 "test pneumonia", "test COVID-19", "test total"),
        rows=((1349, 3895, 66, 5310, 234, 395, 10, 639),
              (7966, 8514, 66, 16546, 100, 100, 10, 210),
              (7966, 5451, 152, 13569, 100, 100, 31, 231),
              (7966, 5451, 258, 13675, 100, 100, 100, 300),
              (7966, 5459, 473, 13898, 100, 100, 100, 300)),
        notes=("v1 is 4-class: pneumonia = bacterial + viral (train 2540 + 1355, test 246 + 149). "
               "v2 train pneumonia includes duplicated RSNA rows (PAPERS.md §3.7 item 2).")),
)

_BY_KEY = {t.key: t for t in _TABLES}


def list_tables() -> list[str]:
    """Keys of all published tables, e.g. ``coronet/table3``, in paper order."""
    return [t.key for t in _TABLES]


def describe_tables() -> pd.DataFrame:
    """One row per table: key (index), title, source, layout, units."""
    return pd.DataFrame([(t.title, t.source, t.layout, t.units) for t in _TABLES],
                        index=pd.Index([t.key for t in _TABLES], name="key"),
                        columns=["title", "source", "layout", "units"])


def published_entry(key: str) -> PublishedTable:
    """The :class:`PublishedTable` record behind ``key`` (KeyError lists the known keys)."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"published table {key!r} not found; known: {', '.join(_BY_KEY)}") from None


def published_table(key: str) -> pd.DataFrame:
    """A fresh DataFrame of the published table ``key``; metadata in ``df.attrs`` (see module doc)."""
    return published_entry(key).frame()


def published_confusion(key: str) -> np.ndarray:
    """The values of a ``confusion`` layout table as an array (rows true, columns predicted)."""
    entry = published_entry(key)
    if entry.layout != "confusion":
        raise ValueError(f"published table {key!r}: expected layout 'confusion', found "
                         f"{entry.layout!r}")
    return entry.frame().to_numpy()
