"""CORONA-Net's published results as data [VIP], [PG], and the COVID-Net / COVIDx figures they rest on.

Copied from ``docs/PAPERS.md`` §3.5 and §4 with their source tags: [VIP] = CORONA-Net project page,
[PG] = published abstracts, [CNet@x] = COVID-Net repository at commit x. Nothing here is computed
except where a note says INFERRED. Looked up through :func:`cxr_core.report.published.published_table`
(the family lists them in ``FAMILY.published.tables``).
"""

from __future__ import annotations

from cxr_core.report.published import PublishedTable

_COVIDNET_COLUMNS = ("test set", "sensitivity Normal", "sensitivity Pneumonia", "sensitivity COVID-19",
                     "PPV Normal", "PPV Pneumonia", "PPV COVID-19")

TABLES: tuple[PublishedTable, ...] = (
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
        companion="coronanet/table5_ppv_relabelled",
        quoted=True),
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
               "COVIDx test sets (210/231/300) do not (INFERRED; docs/PAPERS.md §3.7 item 1).")),
    PublishedTable(
        key="covidnet/results", title="COVID-Net 3-class sensitivity / PPV by model version",
        source="[CNet] README at the commits of docs/PAPERS.md §4", layout="summary", units="percent",
        index=("COVID-Net Small", "COVID-Net Large", "COVIDNet-CXR Small", "COVIDNet-CXR Large",
               "COVIDNet-CXR3-A", "COVIDNet-CXR3-B", "COVIDNet-CXR3-C"),
        columns=_COVIDNET_COLUMNS,
        rows=(("v2 (210)", 95.0, 91.0, 80.0, 91.3, 93.8, 88.9),
              ("v2 (210)", 94.0, 90.0, 90.0, 90.4, 93.8, 90.0),
              ("COVIDx2 (231)", 97.0, 90.0, 87.1, 89.8, 94.7, 96.4),
              ("COVIDx2 (231)", 99.0, 89.0, 96.8, 91.7, 98.9, 90.9),
              ("COVIDx3 (300)", 93.0, 93.0, 94.0, 92.1, 90.3, 97.9),
              ("COVIDx3 (300)", 95.0, 94.0, 91.0, 90.5, 91.3, 98.9),
              ("COVIDx3 (300)", 92.0, 90.0, 95.0, 90.2, 91.8, 95.0)),
        notes=("COVID-Net Small/Large: 116.6 M / 126.6 M params, 2.26 / 3.59 GMACs [CNet@61a5963]. "
               "4-class v1 figures: 'covidnet/v1_4class'."),
        quoted=True),
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
               "v2 train pneumonia includes duplicated RSNA rows (docs/PAPERS.md §3.7 item 2).")),
)
