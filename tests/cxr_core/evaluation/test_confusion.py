"""cxr_core.evaluation.confusion: confusion-matrix metrics against scikit-learn, input validation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from cxr_core.evaluation import confusion as C


def test_zero_division_gives_zero_like_sklearn():
    cm = np.array([[5, 0, 0], [3, 0, 0], [0, 0, 0]])  # class 1 never predicted, class 2 absent
    df = C.from_confusion_matrix(cm, ["a", "b", "c"])
    assert df.loc["b", "precision"] == 0.0 and df.loc["c", "recall"] == 0.0
    assert df.loc["c", "f1"] == 0.0
    y = np.repeat([0, 1], [5, 3])
    pred = np.zeros(8, int)
    prec, rec, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1, 2],
                                                           zero_division=0)
    np.testing.assert_allclose(df.loc[["a", "b", "c"], "precision"], prec)
    np.testing.assert_allclose(df.loc[["a", "b", "c"], "f1"], f1)
    assert df.loc["macro", "f1"] == pytest.approx(skm.f1_score(y, pred, labels=[0, 1, 2],
                                                               average="macro", zero_division=0))
    empty = C.from_confusion_matrix(np.zeros((2, 2), int), ["a", "b"])
    assert empty.attrs["accuracy"] == 0.0
    assert not empty.isna().any().any()


@pytest.mark.parametrize("cm,names,message", [
    ([[1, 2, 3]], ["a", "b"], "square"),
    ([[1, 2], [3, 4]], ["a", "b", "c"], "does not match 3 class names"),
    ([[1, -2], [3, 4]], ["a", "b"], "non-negative"),
    ([[1, 2.5], [3, 4]], ["a", "b"], "integer"),
    ([[1, np.nan], [3, 4]], ["a", "b"], "NaN"),
    ([[1, 2], [3, 4]], ["a", "a"], "unique"),
])
def test_confusion_matrix_validation(cm, names, message):
    with pytest.raises(ValueError, match=message):
        C.from_confusion_matrix(cm, names)
