"""CVR-Net's published results as data: the abstract's task figures [S2] and a notebook report [CVR-T].

Copied from ``docs/PAPERS.md`` §2.5 with their source tags: [S2] = CVR-Net abstract, [CVR-T] =
CVR-Net notebook outputs. Nothing here is computed except where a note says INFERRED. Looked up
through :func:`cxr_core.report.published.published_table` (the family lists them in ``FAMILY.published.tables``).
"""

from __future__ import annotations

from cxr_core.report.published import NAN, REPORT_COLUMNS, PublishedTable

TABLES: tuple[PublishedTable, ...] = (
    PublishedTable(
        key="cvrnet/abstract", title="CVR-Net task results (abstract)",
        source="[S2] abstract", layout="summary", units="fraction",
        index=("task 1", "task 2", "task 3", "task 4", "task 5"),
        columns=("classes", "dataset", "F1", "accuracy"),
        rows=((2, "Dataset-1", 0.997, 0.998), (3, "Dataset-1", 0.963, 0.964),
              (4, "Dataset-1", 0.816, 0.820), (3, "Dataset-2", 0.961, 0.961),
              (2, "Dataset-3 (CT)", 0.780, 0.780)),
        notes=("Averaging of F1 not stated (weighted vs macro; fold mean vs pooled; docs/PAPERS.md §2.7 "
               "item 7). README Jul-2020: 99.8%, 96.4%, 78.0% [CVR-RM-jul]. Paper tables NOT "
               "RETRIEVED.")),
    PublishedTable(
        key="cvrnet/task1_fold2_report", title="CVR-Net notebook Task-1 fold-2 test report",
        source="[CVR-T] Train_and_Evaluate_CVR-Net.ipynb @f70d2ca", layout="report",
        units="fraction",
        index=("NOR", "NCP", "accuracy", "macro avg", "weighted avg"), columns=REPORT_COLUMNS,
        rows=((0.998, 0.999, 0.999, 1176), (0.990, 0.980, 0.985, 101), (NAN, NAN, 0.998, 1277),
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
)
