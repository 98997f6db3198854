"""Weights of the wrong model: one line naming the family the file looks like, no Keras warning flood.

Files are written by each family's own builder at small input sizes; each family's
``recognise_weights`` must claim its own files and no other family's.
"""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

from coronanet_tf import build_coronanet, build_vgg16_bn_backbone
from coronanet_tf.weights import recognise_weights as coronanet_recognises
from coronet_tf import build_coronet, load_finetune_weights
from coronet_tf.weights import recognise_weights as coronet_recognises
from cvrnet_tf import build_cvrnet
from cvrnet_tf.weights import recognise_weights as cvrnet_recognises
from cxr_core.family import WeightsPart
from cxr_core.weights.files import describe_weight_file
from cxr_core.weights.files import WeightFileError
from cxr_core.weights.load import load_keras_weights, load_weights_for

pytestmark = pytest.mark.slow

RECOGNISERS = {"coronet": coronet_recognises, "cvrnet": cvrnet_recognises, "coronanet": coronanet_recognises}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("families")
    out = {}
    for name, build in (("coronet", lambda: build_coronet(4, (71, 71, 3))),
                        ("cvrnet", lambda: build_cvrnet(2, input_shape=(71, 71, 3))),
                        ("coronanet", lambda: build_coronanet(3, with_decoder=False)),
                        ("coronanet_decoder", lambda: build_coronanet(3, with_decoder=True)),
                        ("coronanet_backbone", lambda: build_vgg16_bn_backbone())):
        out[name] = tmp / f"{name}.weights.h5"
        build().save_weights(out[name])
    try:  # a reference library: CI always has it (tests/references.py); locally its case is left out
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        out["coronanet_torch"] = tmp / "covid.pth.tar"
        torch.save({"state_dict": {"net_fet.0.weight": torch.zeros(64, 3, 3, 3)}}, out["coronanet_torch"])
    return out


@pytest.fixture
def registry(monkeypatch):
    """The three families as the registry would hand them to :func:`cxr_core.weights.guess.guess_family`."""
    families = [types.SimpleNamespace(name=n, weights=WeightsPart(recognise=r)) for n, r in RECOGNISERS.items()]
    monkeypatch.setattr("cxr_core.family.iter_families", lambda: iter(families))
    return {f.name: f for f in families}


def test_each_family_recognises_its_own_files_only(files):
    for file_name, path in files.items():
        summary = describe_weight_file(path)
        claimed = [family for family, recognise in RECOGNISERS.items() if recognise(summary)]
        assert claimed == [file_name.split("_")[0]], (file_name, summary.format, claimed, summary.top_level[:6])


def test_wrong_family_ends_in_one_line_without_warnings(files, registry):
    coronet = build_coronet(4, (71, 71, 3))
    for file_name, family in (("cvrnet", "cvrnet"), ("coronanet", "coronanet")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(WeightFileError) as info:
                load_keras_weights(coronet, files[file_name])
        assert not caught, [str(w.message)[:80] for w in caught]
        message = str(info.value)
        assert "\n" not in message and message.endswith(f"looks like weights of a {family!r} model (keras3_weights)")
    if "coronanet_torch" in files:  # written where PyTorch is installed (always in CI)
        with pytest.raises(WeightFileError, match=r"covid\.pth\.tar: looks like weights of a 'coronanet' model \(torch\), not 'coronet'"):
            load_weights_for(registry["coronet"], coronet, files["coronanet_torch"])
    with pytest.raises(WeightFileError, match=r"looks like weights of a 'coronanet' model") as info:
        load_finetune_weights(build_coronet(3, (71, 71, 3)), files["coronanet"])  # model.init_from
    assert "\n" not in str(info.value)


def test_own_family_file_still_loads(files, registry):
    model = build_coronet(4, (71, 71, 3))
    load_weights_for(registry["coronet"], model, files["coronet"])
    reference = build_coronet(4, (71, 71, 3))
    reference.load_weights(files["coronet"])
    np.testing.assert_array_equal(model.get_layer("dense").get_weights()[0], reference.get_layer("dense").get_weights()[0])
