"""CoroNet's published results as data [S4], [CN-old], and the COVID-Net v1 figures its Table VIII quotes.

Copied from ``docs/PAPERS.md`` §1.5 (and §4 for ``covidnet/v1_4class``) with their source tags:
[S4] = CoroNet paper, [CN-old] = CoroNet notebook outputs, [CNet@x] = COVID-Net repository at
commit x. The paper's "avg" row is named ``mean`` to line up with :func:`cxr_core.evaluation.metrics.fold_table`.
Nothing here is computed except where a note says INFERRED. Looked up through
:func:`cxr_core.report.published.published_table` (the family lists them in ``FAMILY.published.tables``).
"""

from __future__ import annotations

from cxr_core.report.published import CLASS_COLUMNS, FOLD_COLUMNS, NAN, REPORT_COLUMNS, PublishedTable

TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        key="coronet/table3", title="CoroNet 4-class, per fold (4-fold CV)",
        source="[S4] Table III", layout="folds", units="percent",
        index=("fold 1", "fold 2", "fold 3", "fold 4", "mean"), columns=FOLD_COLUMNS,
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
        index=("COVID-19", "Normal", "Pneumonia bacterial", "Pneumonia viral"), columns=(*CLASS_COLUMNS, "Accuracy"),
        rows=((93.17, 98.25, 97.9, 95.61, 96.6), (95.25, 93.5, 98.1, 94.3, NAN), (86.85, 85.9, 95, 86.3, NAN),
              (84.1, 82.1, 94.8, 83.1, NAN)),
        notes=("Text: COVID-19 class accuracy 96.6%, precision 93.17, recall 98.25, F1 95.6 [S4]; Accuracy column: "
               "that one-vs-rest class accuracy (the paper gives no other class's)."),
        extra=(("covid_class_accuracy", 96.6),)),
    PublishedTable(
        key="coronet/table5", title="CoroNet 4-class, 3-class and binary summary",
        source="[S4] Table V", layout="summary", units="percent",
        index=("4-class", "3-class", "binary"), columns=FOLD_COLUMNS,
        rows=((90, 89.92, 96.4, 89.8, 89.6), (95, 96.9, 97.5, 95.6, 95),
              (98.3, 99.3, 98.6, 98.5, 99)),
        notes=("3-class: paper fine-tunes the 4-class model, code trains a fresh Dense(3). Binary "
               "classes ambiguous ('COVID-19, Normal and Pneumonia'). Discussion gives 89.5 / 94.59 "
               "/ 99 [S4]; README 89.5 [CN] (docs/PAPERS.md §1.7 items 5, 7).")),
    PublishedTable(
        key="coronet/table6", title="CoroNet on Dataset-2 of Ozturk et al. (3 classes)",
        source="[S4] Table VI", layout="classwise", units="percent",
        index=("COVID-19", "Normal", "Pneumonia", "Average"), columns=CLASS_COLUMNS,
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
        rows=((93.48, 98.75, 143), (92.85, 85.57, 33), (NAN, 92.4, 116), (NAN, 95.38, 36),
              (NAN, 90, 143), (NAN, 98, 36), (NAN, 97, 26), (87.02, 98.08, 1.1), (89.6, 99, 33)),
        notes=("NA in the paper -> NaN. CoroNet's '3-class' 89.6 is its 4-class accuracy (sic). "
               "Reference numbers [41]-[45] are absent from the paper's reference list."),
        quoted=True),
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
        extra=(("accuracy", {"COVID-Net": 83.5, "CoroNet": 89.6}),),
        quoted=True),
    PublishedTable(
        key="coronet/notebook_report",
        title="CoroNet notebook test report (4-class .h5, 242-image test dir)",
        source="[CN-old] Covid19_CXR_Classification.ipynb @37669de", layout="report",
        units="fraction",
        index=("covid", "normal", "pneumonia_bac", "pneumonia_vir", "accuracy", "macro avg",
               "weighted avg"),
        columns=REPORT_COLUMNS,
        rows=((1.00, 1.00, 1.00, 20), (0.89, 1.00, 0.94, 77), (0.89, 0.79, 0.84, 75),
              (0.87, 0.86, 0.86, 70), (NAN, NAN, 0.89, 242), (0.91, 0.91, 0.91, 242),
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
    PublishedTable(
        key="covidnet/v1_4class", title="COVID-Net v1 4-class sensitivity / PPV",
        source="[CNet@5c699ce] README", layout="classwise", units="percent",
        index=("Normal", "Pneumonia bacterial", "Pneumonia viral", "COVID-19"),
        columns=("Recall", "Precision"),
        rows=((73.9, 95.1), (93.1, 87.1), (81.9, 67.0), (100.0, 80.0)),
        notes=("Sensitivity = Recall, PPV = Precision. README: 'still from the previous COVIDx "
               "dataset with 8 COVID test samples'. Quoted in CoroNet Table VIII [S4]."),
        quoted=True),
)
