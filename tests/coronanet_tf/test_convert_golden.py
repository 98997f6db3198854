"""CORONA-Net's PyTorch -> Keras conversion checked numerically WITHOUT PyTorch, against golden tensors.

The state dict is drawn again from its seed in the authors' ``vgg_ae`` layout [CR] (docs/PAPERS.md §3.1,
§3.6), converted by :func:`coronanet_tf.torch_weights.coronanet_arrays_from_torch` (kernel transposes,
the (C,H,W) -> (H,W,C) row permutation of the first Linear, the decoder's padding crops, BatchNorm
epsilons) and run in Keras; logits and reconstruction must equal what PyTorch computed for the same
weights and inputs (tests/coronanet_tf/golden/convert_vgg_ae.npz, made by
``python -m tests.coronanet_tf.make_golden``). With PyTorch installed, tests/coronanet_tf/test_convert.py
also compares live and checks that this file is still what PyTorch computes.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from coronanet_tf import build_coronanet
from coronanet_tf.torch_weights import coronanet_arrays_from_torch
from cxr_core.weights.transfer import copy_weights
from tests.coronanet_tf.golden_tensors import (GOLDEN, load_golden, reconstruction_sample, seeded_inputs,
                                               seeded_state_dict)

#: float32 through 13 convolutions and 12 transposed ones in two frameworks (the live test uses 1e-4)
TOL = 1e-4


@pytest.fixture(scope="module")
def golden():
    return load_golden()


@pytest.fixture(scope="module")
def keras_outputs(golden):
    shapes = [json.loads(str(s)) for s in golden["shapes"]]
    state = seeded_state_dict(golden["keys"], shapes, seed=int(golden["weights_seed"]))
    arrays, report = coronanet_arrays_from_torch(state)
    assert report.with_decoder and not report.missing
    model = build_coronanet(num_classes=3, with_decoder=True)
    copy_weights(model, arrays, source_name="golden state dict")
    logits, rec = model(seeded_inputs(int(golden["inputs_seed"])), training=False)
    return np.asarray(logits), np.asarray(rec)


def test_the_golden_file_is_small_and_not_trivial(golden):
    assert GOLDEN.stat().st_size < 200_000
    assert golden["logits"].shape == (2, 3) and np.abs(golden["logits"]).max() > 1.0
    assert golden["rec_grid"].shape == (2, 32, 32, 3) and golden["rec_grid"].std() > 0.1
    assert "classifier.0.weight" in set(golden["keys"]) and "dec.fc1.weight" in set(golden["keys"])


def test_logits_equal_pytorchs(golden, keras_outputs):
    np.testing.assert_allclose(keras_outputs[0], golden["logits"], rtol=0, atol=TOL)


def test_reconstruction_equals_pytorchs(golden, keras_outputs):
    for name, ours in reconstruction_sample(keras_outputs[1]).items():
        np.testing.assert_allclose(ours, golden[name], rtol=0, atol=TOL, err_msg=name)


@pytest.mark.slow
def test_a_conversion_mistake_is_caught(golden):
    """The check can fail: the first convolution's kernel with height and width swapped ((out, in, kh, kw)
    -> (kw, kh, in, out) instead of (kh, kw, in, out)) moves the logits far beyond the tolerance."""
    shapes = [json.loads(str(s)) for s in golden["shapes"]]
    state = seeded_state_dict(golden["keys"], shapes, seed=int(golden["weights_seed"]))
    arrays, _ = coronanet_arrays_from_torch(state, with_decoder=False)
    assert np.array_equal(arrays["net_fet_0"][0], state["net_fet.0.weight"].transpose(2, 3, 1, 0))
    arrays["net_fet_0"] = [state["net_fet.0.weight"].transpose(3, 2, 1, 0), *arrays["net_fet_0"][1:]]
    model = build_coronanet(num_classes=3, with_decoder=False)
    copy_weights(model, arrays, source_name="kh/kw swapped")
    logits = np.asarray(model(seeded_inputs(int(golden["inputs_seed"])), training=False))
    assert np.abs(logits - golden["logits"]).max() > 100 * TOL
