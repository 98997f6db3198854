"""CoroNet builder: the family contract (tests/family_harness.py) with the published parameter counts
[S4 Table II], layer names, backbone files."""

from __future__ import annotations

import numpy as np
import pytest

from coronet_tf import PUBLISHED_PARAMS, build_coronet, xception_output_side  # noqa: E402
from coronet_tf.model import build_xception  # noqa: E402
from tests.family_harness import FAST_PARTS, SLOW_PARTS, FamilyCase, PublishedCount, run_family_test
from tests.references import require  # noqa: E402


def _counts(model) -> tuple[int, int, int]:
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    non_trainable = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return model.count_params(), trainable, non_trainable


def test_table_ii_counts_and_layer_names():
    model = build_coronet(num_classes=4, input_shape=(150, 150, 3))
    assert _counts(model) == (33_969_964, 33_915_436, 54_528)  # [S4] Table II
    assert [layer.name for layer in model.layers] == ["xception", "flatten", "dropout", "dense", "dense_1"]
    assert tuple(model.get_layer("xception").output.shape) == (None, 5, 5, 2048)
    assert tuple(model.get_layer("flatten").output.shape) == (None, 51_200)
    assert model.get_layer("dense").count_params() == 13_107_456
    assert model.get_layer("dense_1").count_params() == 1_028
    assert model.get_layer("xception").count_params() == 20_861_480
    assert tuple(model.get_layer("xception").get_layer("block14_sepconv2_act").output.shape) == (None, 5, 5, 2048)


# Totals of docs/PAPERS.md §1.1 (INFERRED arithmetic there, written here from the text, not from our code);
# the non-trainable part is Table II's 54,528 [S4] (Xception's BatchNorm statistics, whatever the head).
PAPERS_TOTALS = {(150, 4): 33_969_964, (224, 4): 46_552_876, (150, 3): 33_969_707, (150, 2): 33_969_450}
TABLE_II_NON_TRAINABLE = 54_528
PAPERS_COUNTS = {key: (total, total - TABLE_II_NON_TRAINABLE, TABLE_II_NON_TRAINABLE)
                 for key, total in PAPERS_TOTALS.items()}

#: the family contract (tests/family_harness.py): the smallest CoroNet (Xception needs 71x71, 2 classes)
#: and every published count
CASE = FamilyCase(
    build={"num_classes": 2, "input_shape": (71, 71, 3)},
    published=tuple(
        PublishedCount({"num_classes": classes, "input_shape": (side, side, 3)}, counts,
                       "[S4] Table II" if (side, classes) == (150, 4) else "docs/PAPERS.md §1.1 (INFERRED)")
        for (side, classes), counts in PAPERS_COUNTS.items()),
)


def test_family_contract():
    models = run_family_test("coronet", CASE, parts=FAST_PARTS)
    assert models["mixed_precision"].get_layer("dense").compute_dtype == "float16"


@pytest.mark.slow
def test_family_contract_heavy_parts(tmp_path):
    """float32 build, .keras and weights round trips, two training steps, the published counts at
    150 and 224 with 4, 3 and 2 classes."""
    run_family_test("coronet", CASE, tmp_path, parts=SLOW_PARTS)


def test_the_presets_record_of_the_published_counts():
    assert PUBLISHED_PARAMS == PAPERS_COUNTS


def test_auto_named_layers_do_not_depend_on_earlier_builds():
    first = build_xception((71, 71, 3))
    second = build_xception((71, 71, 3))
    names = [layer.name for layer in second.layers if layer.name.startswith(("conv2d", "batch_normalization"))]
    assert names == ["conv2d", "batch_normalization", "conv2d_1", "batch_normalization_1",
                     "conv2d_2", "batch_normalization_2", "conv2d_3", "batch_normalization_3"]
    assert [layer.name for layer in first.layers] == [layer.name for layer in second.layers]


def test_output_side_matches_keras():
    for side in (71, 96):
        assert xception_output_side(side) == build_xception((side, side, 3)).output.shape[1]
    assert [xception_output_side(s) for s in (71, 96, 150, 224, 299)] == [3, 3, 5, 7, 10]


@pytest.mark.slow
def test_backbone_weights_from_keras2_notop_file(tmp_path):
    """A Keras-2 notop file (the format of Keras' ImageNet Xception download) loads as backbone."""
    tf_keras = require("tf_keras")
    tf_keras.backend.clear_session()
    theirs = tf_keras.applications.Xception(weights=None, include_top=False, input_shape=(71, 71, 3))
    path = tmp_path / "xception_notop.h5"
    theirs.save_weights(str(path))
    model = build_coronet(num_classes=4, input_shape=(71, 71, 3), backbone_weights=path)
    x = np.random.default_rng(1).random((2, 71, 71, 3), dtype=np.float32)
    ours = np.asarray(model.get_layer("xception")(x, training=False))
    ref = theirs.predict(x, verbose=0)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_bad_arguments_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file at"):
        build_coronet(backbone_weights=tmp_path / "missing.h5")
    with pytest.raises(ValueError, match=">= 71"):
        build_coronet(input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="num_classes"):
        build_coronet(num_classes=1)
