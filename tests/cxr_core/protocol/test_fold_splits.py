"""cxr_core.protocol.split_files: folds with their validation rows, the split files, reuse across runs (no images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxr_core.config.experiment import load_config, replace
from cxr_core.protocol.splits import holdout_assignments
from cxr_core.protocol.split_files import (
    fixed_split,
    fold_assignments,
    make_splits,
    read_fold_csvs,
    resolve_splits,
    split_path,
    write_fold_csvs,
)
from cxr_core.runs.directory import RunDirectoryError
from cxr_core.seeds import inner_validation_seed
from tests.cxr_core.protocol.test_splits import synthetic_table

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def table():
    return synthetic_table({"a": 40, "b": 30, "c": 20}, patients=60)


def _cfg(**protocol):
    cfg = load_config(REPO / "experiments/coronet/4class.yaml")
    return replace(cfg, {"protocol": {"group_by_patient": True, **protocol}})


def test_kfold_test_folds_partition_the_table_and_inner_validation_is_leak_free(table):
    cfg = _cfg(validation="inner_split", inner_val_fraction=0.2)
    splits = make_splits(cfg, table, fold_assignments(cfg, table))
    assert [s.fold for s in splits] == [0, 1, 2, 3]
    assert sorted(int(i) for s in splits for i in s.test) == list(range(len(table)))
    patients = table.frame["patient_id"].to_numpy()
    for s in splits:
        assert len(set(s.train) | set(s.val) | set(s.test)) == len(s.train) + len(s.val) + len(s.test) == len(table)
        train, val, test = (set(patients[p]) for p in (s.train, s.val, s.test))
        assert not (train & val or train & test or val & test), f"fold {s.fold}: a patient in two roles"
        # the one seeding rule: fold k's validation part is holdout_assignments(inner_validation_seed(seed, k))
        pool = np.sort(np.concatenate([s.train, s.val]))
        held = holdout_assignments(table.subset(pool), 0.2, inner_validation_seed(cfg.protocol.seed, s.fold),
                                   group_by_patient=True)
        np.testing.assert_array_equal(pool[held], s.val)


def test_fixed_split_uses_the_same_seeding_rule(table):
    cfg = _cfg(kind="fixed_split", validation="inner_split", inner_val_fraction=0.25)
    split = fixed_split(cfg, table, 60)
    np.testing.assert_array_equal(split.test, np.arange(60, len(table)))
    held = holdout_assignments(table.subset(np.arange(60)), 0.25, inner_validation_seed(cfg.protocol.seed, 0),
                               group_by_patient=True)
    np.testing.assert_array_equal(split.val, np.flatnonzero(held))
    on_test = fixed_split(_cfg(kind="fixed_split"), table, 60)  # test_fold: val is the test set
    np.testing.assert_array_equal(on_test.val, np.arange(60, len(table)))
    assert fixed_split(_cfg(kind="fixed_split", validation="none"), table, 60).val is None


def test_split_files_round_trip_and_reuse(table, tmp_path):
    cfg = _cfg(validation="inner_split")
    splits = resolve_splits(cfg, table, tmp_path / "a")
    frame = pd.read_csv(split_path(tmp_path / "a", 0), keep_default_na=False)
    assert list(frame.columns) == ["sample_id", "label", "patient_id", "role"] and len(frame) == len(table)
    assert frame["role"].value_counts().to_dict().keys() == {"train", "val", "test"}
    again = read_fold_csvs(tmp_path / "a", table, 4, "inner_split")
    for s, t in zip(splits, again):
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(s, part), getattr(t, part))
    # reused by a run without a validation part: its val rows train
    other = resolve_splits(_cfg(validation="none", splits_from=str(tmp_path / "a" / "splits")), table, tmp_path / "b")
    for s, t in zip(splits, other):
        np.testing.assert_array_equal(np.sort(np.concatenate([s.train, s.val])), t.train)
        assert t.val is None
    copied = pd.read_csv(split_path(tmp_path / "b", 3), keep_default_na=False)
    original = pd.read_csv(split_path(tmp_path / "a", 3), keep_default_na=False)
    assert set(copied["role"]) == {"train", "test"}, "copied as this run uses them"
    assert (copied["role"] == "test").equals(original["role"] == "test")


def test_split_files_that_do_not_fit_are_refused(table, tmp_path):
    cfg = _cfg()
    write_fold_csvs(tmp_path, table, make_splits(cfg, table, fold_assignments(cfg, table)))
    with pytest.raises(RunDirectoryError, match="no 'val' rows"):
        read_fold_csvs(tmp_path, table, 4, "inner_split")
    fewer = table.subset(np.arange(1, len(table)))
    with pytest.raises(RunDirectoryError, match="split does not match the data .* 1 not in the data"):
        read_fold_csvs(tmp_path, fewer, 4, "test_fold")
    path = split_path(tmp_path, 2)
    frame = pd.read_csv(path, keep_default_na=False)
    frame.loc[0, "role"] = "holdout"
    frame.to_csv(path, index=False)
    with pytest.raises(RunDirectoryError, match="fold_2.csv: unknown role 'holdout'"):
        read_fold_csvs(tmp_path, table, 4, "test_fold")
    with pytest.raises(RunDirectoryError, match="does not hold fold_0.csv"):
        resolve_splits(_cfg(splits_from=str(tmp_path / "nowhere")), table, tmp_path / "new")
