"""Splits: undersampling (CoroNet Table I), k-fold (sklearn, CVR-Net contiguous), holdout, Keras validation_split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, StratifiedShuffleSplit

from cxr_core.data.tables.sample_table import SampleTable
from cxr_core.data.tables.manifest import read_manifest_csv
from cxr_core.protocol.splits import (
    SplitError,
    holdout_assignments,
    keras_validation_split,
    kfold_assignments,
    undersample,
)

CORONET_CLASSES = ("covid", "normal", "pneumonia_bacterial", "pneumonia_viral")
# Pool sizes behind CoroNet Table I: Mooney 1203 normal / 660 bacterial / 931 viral; ~290 COVID [S4].
CORONET_POOL = {"covid": 290, "normal": 1203, "pneumonia_bacterial": 660, "pneumonia_viral": 931}
# CoroNet Table I: images per class after random undersampling (docs/PAPERS.md §1.3) [S4].
CORONET_TABLE1_COUNTS = {"normal": 310, "pneumonia_bacterial": 330, "pneumonia_viral": 327, "covid": 284}


def synthetic_table(counts: dict[str, int], *, patients: int | None = None, seed: int = 0) -> SampleTable:
    """Rows interleaved across classes (no files needed for splits)."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([[c] * n for c, n in counts.items()])
    rng.shuffle(labels)
    names = tuple(counts)
    ids = [f"{lab}/img_{i:05d}.png" for i, lab in enumerate(labels)]
    patient = (
        pd.Series([f"p{rng.integers(patients)}" for _ in labels], dtype="string")
        if patients
        else pd.Series([None] * len(labels), dtype="string")
    )
    frame = pd.DataFrame(
        {
            "sample_id": pd.Series(ids, dtype="string"),
            "path": pd.Series(["/nonexistent/" + i for i in ids], dtype="string"),
            "label": pd.Series(labels, dtype="string"),
            "label_index": pd.Series([names.index(lab) for lab in labels], dtype="int64"),
            "patient_id": patient,
            "source": pd.Series([None] * len(labels), dtype="string"),
        }
    )
    return SampleTable(frame, names)


@pytest.fixture(scope="module")
def manifest_table(shared_data):
    return read_manifest_csv(shared_data / "cxr4-mini" / "MANIFEST.csv")


# --------------------------------------------------------------------------------------- undersample


def test_undersample_to_coronet_table1():
    table = synthetic_table(CORONET_POOL)
    small = undersample(table, CORONET_TABLE1_COUNTS, seed=8)
    assert small.class_counts().to_dict() == CORONET_TABLE1_COUNTS
    assert len(small) == 1251  # CoroNet Table I total [S4]
    assert small.class_names == table.class_names
    # original row order kept among kept rows
    position = {sid: i for i, sid in enumerate(table.frame["sample_id"])}
    kept_positions = [position[s] for s in small.frame["sample_id"]]
    assert kept_positions == sorted(kept_positions)
    # deterministic per seed, different across seeds
    again = undersample(table, CORONET_TABLE1_COUNTS, seed=8)
    assert again.frame["sample_id"].tolist() == small.frame["sample_id"].tolist()
    other = undersample(table, CORONET_TABLE1_COUNTS, seed=9)
    assert other.frame["sample_id"].tolist() != small.frame["sample_id"].tolist()


def test_undersample_minority_partial_and_errors():
    table = synthetic_table({"a": 30, "b": 12, "c": 20})
    minority = undersample(table, "minority", seed=0)
    assert minority.class_counts().tolist() == [12, 12, 12]
    b_ids = set(table.frame["sample_id"][table.frame["label"] == "b"])
    assert set(minority.frame["sample_id"][minority.frame["label"] == "b"]) == b_ids
    partial = undersample(table, {"a": 5}, seed=0)
    assert partial.class_counts().tolist() == [5, 12, 20]
    assert undersample(table, 10, seed=0).class_counts().tolist() == [10, 10, 10]
    with pytest.raises(SplitError, match=r"class 'b' requested 13 samples but the data has only 12; lower it \(--set "
                                          r"data\.undersample\.b=12\) or keep every image \(--set data\.undersample=null\)"):
        undersample(table, {"a": 10, "b": 13}, seed=0)
    with pytest.raises(SplitError, match="unknown classes"):
        undersample(table, {"z": 1}, seed=0)
    empty_class = SampleTable(table.frame, ("a", "b", "c", "d"))
    with pytest.raises(SplitError, match="'d' has no samples"):
        undersample(empty_class, "minority", seed=0)


# ------------------------------------------------------------------------------------------- k-fold


def test_grouped_kfold_on_cxr4_mini_manifest(manifest_table):
    table = manifest_table
    folds = kfold_assignments(table, 4, seed=42)
    assert folds.shape == (192,) and set(folds.tolist()) == {0, 1, 2, 3}
    # no patient in two folds
    per_patient = pd.Series(folds).groupby(table.frame["patient_id"].to_numpy()).nunique()
    assert (per_patient == 1).all()
    # same folds as scikit-learn's StratifiedGroupKFold
    expected = np.empty(192, dtype=int)
    sgkf = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=42)
    for f, (_, test) in enumerate(sgkf.split(np.zeros((192, 1)), table.labels, table.groups)):
        expected[test] = f
    assert (folds == expected).all()
    # roughly stratified: every fold holds 20-30 % of every class (exact: 25 %)
    crosstab = pd.crosstab(folds, table.labels).to_numpy()
    share = crosstab / crosstab.sum(axis=0, keepdims=True)
    assert (share > 0.20).all() and (share < 0.30).all()
    assert (kfold_assignments(table, 4, seed=42) == folds).all()
    assert not (kfold_assignments(table, 4, seed=43) == folds).all()


def test_ungrouped_kfold_matches_stratified_kfold(manifest_table):
    folds = kfold_assignments(manifest_table, 5, seed=3, group_by_patient=False)
    expected = np.empty(len(manifest_table), dtype=int)
    skf = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    for f, (_, test) in enumerate(skf.split(np.zeros((192, 1)), manifest_table.labels)):
        expected[test] = f
    assert (folds == expected).all()
    counts = pd.crosstab(folds, manifest_table.labels).to_numpy()
    assert counts.max(axis=0).tolist() == [10, 10, 9, 10] and counts.min(axis=0).tolist() == [10, 10, 8, 10]


def test_kfold_errors(manifest_table):
    with pytest.raises(SplitError, match="at least 2"):
        kfold_assignments(manifest_table, 1, seed=0)
    with pytest.raises(ValueError, match="style"):
        kfold_assignments(manifest_table, 4, seed=0, style="random")
    small = synthetic_table({"a": 10, "b": 3})
    with pytest.raises(SplitError, match="class 'b' has 3 samples, fewer than 5 folds"):
        kfold_assignments(small, 5, seed=0)


def test_authors_contiguous_cvrnet_fold_sizes():
    table = synthetic_table({"CPN": 4273})  # CVR-Net Dataset-1 CPN [CVR-P12]
    folds = kfold_assignments(table, 5, seed=0, style="authors_contiguous")
    assert np.bincount(folds).tolist() == [857, 854, 854, 854, 854]
    assert (kfold_assignments(table, 5, seed=0, style="authors_contiguous") == folds).all()
    assert not (kfold_assignments(table, 5, seed=1, style="authors_contiguous") == folds).all()
    task2 = synthetic_table({"01_NOR": 1583, "02_CPN": 4273, "03_NCP": 500})  # CVR-Net Task-2 [CVR-P12]
    folds = kfold_assignments(task2, 5, seed=0, style="authors_contiguous")
    crosstab = pd.crosstab(folds, task2.labels).to_numpy()
    assert crosstab[:, 0].tolist() == [319, 316, 316, 316, 316]
    assert crosstab[:, 1].tolist() == [857, 854, 854, 854, 854]
    assert crosstab[:, 2].tolist() == [100, 100, 100, 100, 100]


def test_authors_contiguous_warns_about_patients(manifest_table):
    with pytest.warns(UserWarning, match="patients have images in more than one fold"):
        kfold_assignments(manifest_table, 4, seed=0, style="authors_contiguous")


# ------------------------------------------------------------------------------------------ holdout


def test_holdout_grouped_and_stratified(manifest_table):
    held = holdout_assignments(manifest_table, 0.2, seed=7)
    assert held.dtype == bool and held.shape == (192,)
    patients = manifest_table.frame["patient_id"].to_numpy()
    assert not set(patients[held]) & set(patients[~held])
    per_class = pd.Series(held).groupby(manifest_table.labels).sum().to_numpy()
    target = np.round(0.2 * manifest_table.class_counts().to_numpy())
    assert np.abs(per_class - target).max() <= 2
    assert (holdout_assignments(manifest_table, 0.2, seed=7) == held).all()

    plain = holdout_assignments(manifest_table, 0.25, seed=7, group_by_patient=False)
    assert plain.sum() == 48
    plain_per_class = pd.Series(plain).groupby(manifest_table.labels).sum().to_numpy()
    assert np.abs(plain_per_class - 0.25 * manifest_table.class_counts().to_numpy()).max() <= 1
    sss = StratifiedShuffleSplit(n_splits=1, test_size=0.25, random_state=7)
    _, test = next(sss.split(np.zeros((192, 1)), manifest_table.labels))
    assert np.flatnonzero(plain).tolist() == sorted(test.tolist())
    with pytest.raises(SplitError, match=r"\(0, 1\)"):
        holdout_assignments(manifest_table, 1.0, seed=0)


def test_holdout_singletons_hit_exact_targets():
    table = synthetic_table({"a": 100, "b": 40, "c": 11}, patients=10_000_000)
    held = holdout_assignments(table, 0.3, seed=1)
    assert pd.Series(held).groupby(table.labels).sum().tolist() == [30, 12, 3]
