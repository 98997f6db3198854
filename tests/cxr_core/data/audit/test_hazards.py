"""The cheap per-run hazard checks say exactly what they checked (issue 17, section 1)."""

from __future__ import annotations

import numpy as np

from cxr_core.data.audit.hazards import cheap_checks
from cxr_core.data.tables.sample_table import table_from_rows

LONG_PATIENT = "actualmed-ANON170-with-a-long-patient-identifier"


def _table(patients, labels=None):
    labels = labels or ["covid", "normal"] * (len(patients) // 2)
    rows = [{"sample_id": f"s{i}.png", "path": f"/nowhere/s{i}.png", "label": lab, "patient_id": p}
            for i, (p, lab) in enumerate(zip(patients, labels))]
    return table_from_rows(rows, ("covid", "normal"))


def _distinct_hashes(n):
    return [f"{i:064x}" for i in range(n)]


def test_blank_patient_ids_are_counted_not_called_leak_free():
    table = _table(["p1", "p2", None, "p4", None, "p6"])
    roles = ["train", "train", "train", "test", "test", "test"]
    report = cheap_checks(table, {0: roles}, hashes=_distinct_hashes(6))
    md = report.markdown()
    assert "no duplicate file or patient on both sides" not in md
    assert "2 samples have none" in md and "4 of 6 samples with a patient id" in md
    assert any("2 of 6 samples have no patient id" in w for w in report.warnings)


def test_without_any_patient_id_the_report_says_not_checked():
    table = _table([None] * 4)
    md = cheap_checks(table, {0: ["train", "train", "test", "test"]}, hashes=_distinct_hashes(4)).markdown()
    assert "no duplicate file or patient on both sides" not in md
    assert "NOT CHECKED: none of the 4 samples has a patient id" in md


def test_every_id_and_splits_checked_says_no_overlap():
    table = _table(["p1", "p2", "p3", "p4"])
    md = cheap_checks(table, {0: ["train", "train", "test", "test"]}, hashes=_distinct_hashes(4)).markdown()
    assert "no duplicate file or patient on both sides of any split" in md
    assert "checked (all 4 samples have a patient id)" in md
    md_no_split = cheap_checks(table, None, hashes=_distinct_hashes(4)).markdown()
    assert "no duplicate file or patient" not in md_no_split and "no splits were given" in md_no_split


def test_patient_keys_are_never_cut():
    table = _table([LONG_PATIENT, LONG_PATIENT, "p3", "p4"], ["covid", "covid", "normal", "normal"])
    report = cheap_checks(table, {0: ["train", "test", "train", "test"]}, hashes=_distinct_hashes(4))
    assert f"| 0 | patient | {LONG_PATIENT} | train+test |" in report.markdown()


def test_groups_under_two_labels_are_named():
    table = _table(["p1", "p2", "p3", "p3"], ["covid", "normal", "covid", "normal"])
    hashes = _distinct_hashes(4)
    hashes[1] = hashes[0]  # s0 (covid) and s1 (normal): the same bytes under two labels
    report = cheap_checks(table, {0: np.array(["train", "train", "test", "test"])}, hashes=hashes)
    assert any("identical files carry two labels: s0.png, s1.png (covid / normal)" in w for w in report.warnings)
    assert "1 patients have images under two labels: p3 (covid / normal)" in report.markdown()


def test_group_by_patient_stops_on_blank_ids_or_warns_when_told(caplog):
    import dataclasses

    import pytest

    from cxr_core.config.experiment import ExperimentConfig
    from cxr_core.data.audit.hazards import require_patient_ids

    proto = ExperimentConfig().protocol  # kfold, group_by_patient: true, blank_patient_ids: error
    table = _table(["p1", None, "p3", None, "p5", "p6"])
    with pytest.raises(ValueError, match=r"2 of the 6 samples have no patient id \(first: s1.png, s3.png\).*"
                                         r"--set protocol.blank_patient_ids=own_group"):
        require_patient_ids(proto, table)
    require_patient_ids(dataclasses.replace(proto, blank_patient_ids="own_group"), table)
    assert "2 of 6 samples have no patient id; each is its own group" in caplog.text
    require_patient_ids(dataclasses.replace(proto, group_by_patient=False), table)  # image-level: nothing to say


def test_readme_smoke_data_is_checked_by_patient(cxr4_mini):
    """The README's smoke data (class folders + MANIFEST.csv): the hazards see the manifest's patients, and the
    leaks of an image-level 4-fold split (the paper preset's) are those counted from MANIFEST.csv directly."""
    import pandas as pd

    from cxr_core.data.tables.readers import read_samples
    from cxr_core.protocol.splits import kfold_assignments

    table = read_samples(cxr4_mini)
    folds = kfold_assignments(table, 4, 42, group_by_patient=False)
    roles = {k: np.where(folds == k, "test", "train") for k in range(4)}
    report = cheap_checks(table, roles, hashes=_distinct_hashes(len(table)))
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv", dtype=str)
    patient_of = dict(zip(manifest["path"], manifest["patient_id"]))
    fold_of = pd.Series(folds, index=table.frame["sample_id"].map(patient_of))
    expected = sum(int((fold_of.groupby(level=0).apply(lambda f, k=k: (f == k).any() and (f != k).any())).sum())
                   for k in range(4))
    assert expected > 0 and (report.leaks["kind"] == "patient").sum() == expected
    assert "checked (all 192 samples have a patient id)" in report.markdown()
