"""PyTorch -> Keras conversion of CORONA-Net [CR]: equal logits and reconstructions on real images.

A seeded PyTorch ``vgg_ae`` (coronanet_tf.torch_reference, the authors' module layout) with random
weights AND random BatchNorm running statistics is saved like the authors' ``covid.pth.tar``
(docs/PAPERS.md §3.6), converted, and both frameworks run (eval mode) on real chest X-rays of cxr4-mini
preprocessed like [CR]: PIL RGB, Resize(224) shorter side (bilinear), CenterCrop(224), ImageNet
mean/std.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.references import require

torch = require("torch")  # the reference framework; CI fails without it

from PIL import Image  # noqa: E402

from coronanet_tf import build_coronanet, convert_torch_checkpoint, convert_torchvision_vgg16_bn  # noqa: E402
from coronanet_tf.torch_weights import ConversionReport, coronanet_arrays_from_torch  # noqa: E402
from coronanet_tf.weights import load_weights as load_coronanet_weights  # noqa: E402
from coronanet_tf import torch_reference  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
TOL = 1e-4


def _preprocess(path: Path, size: int = 224) -> np.ndarray:
    """[CR] ``Resize(224)`` (PIL bilinear, shorter side) + ``CenterCrop(224)`` + ImageNet mean/std; HWC."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    if w <= h:
        ow, oh = size, int(size * h / w)
    else:
        ow, oh = int(size * w / h), size
    image = image.resize((ow, oh), Image.BILINEAR)
    left, top = int(round((ow - size) / 2.0)), int(round((oh - size) / 2.0))
    image = image.crop((left, top, left + size, top + size))
    x = np.asarray(image, dtype=np.float32)
    return (x - 255.0 * MEAN) / (255.0 * STD)


@pytest.fixture(scope="module")
def images(cxr4_mini: Path) -> np.ndarray:
    with open(cxr4_mini / "MANIFEST.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    picks = [next(r for r in rows if r["class"] == c) for c in ("covid", "normal")]
    return np.stack([_preprocess(cxr4_mini / r["path"]) for r in picks])


@pytest.fixture(scope="module")
def reference(images):
    """Seeded torch model with random BN statistics (measured on the images, then perturbed)."""
    calib = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    return torch_reference.build_torch_reference(seed=1234, randomize_bn=True, calibration_batch=calib)


@pytest.fixture(scope="module")
def torch_outputs(reference, images):
    with torch.no_grad():
        logits, rec = reference(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
    return logits.numpy(), rec.numpy().transpose(0, 2, 3, 1)


def _checkpoint(state_dict) -> dict:
    return {"epoch": 990, "arch": "resnet18", "state_dict": state_dict, "best_prec1": 95.84, "optimizer": {}}


@pytest.fixture(scope="module")
def converted(tmp_path_factory, reference):
    tmp = tmp_path_factory.mktemp("coronanet")
    src = tmp / "covid.pth.tar"
    torch.save(_checkpoint(reference.state_dict()), src)
    dst = tmp / "covid.weights.h5"
    report = convert_torch_checkpoint(src, dst)
    return dst, report


@pytest.fixture(scope="module")
def keras_model(converted):
    dst, _ = converted
    model = build_coronanet()
    model.load_weights(dst)
    return model


def test_torch_reference_has_the_authors_keys(reference):
    keys = set(reference.state_dict())
    assert {"net_fet.0.weight", "net_fet.41.running_var"} <= keys and "net_fet.43.weight" not in keys
    assert {"nscnn.0.weight", "classifier.6.bias", "dec.upsample12.weight", "dec.batchnorm12.running_mean",
            "dec.conv1.weight", "dec.fc.weight", "dec.fc1.weight"} <= keys
    unused = sum(p.numel() for n, p in reference.named_parameters() if n.startswith(("dec.conv", "dec.fc")))
    assert unused == 2_303_663  # docs/PAPERS.md §3.1
    assert sum(p.numel() for p in reference.parameters()) == 17_353_722


def test_report_lists_ignored_and_converted(converted):
    dst, report = converted
    assert isinstance(report, ConversionReport)
    assert dst.is_file() and report.destination == str(dst)
    assert report.num_classes == 3 and report.with_decoder
    assert not report.missing and not report.dtype_casts
    ignored_modules = {k.rsplit(".", 1)[0] for k, why in report.ignored.items() if "never called" in why}
    assert ignored_modules == {"dec.conv1", "dec.conv2", "dec.conv3", "dec.fc", "dec.fc1"}
    assert sum(k.endswith("num_batches_tracked") for k in report.ignored) == 13 + 12
    # 13 conv x2 + 13 BN x4 + nscnn 2 + classifier 8 + decoder 12 x (2 + 4)
    assert len(report.converted) == 26 + 52 + 2 + 8 + 72
    assert "dec.fc1.weight" in report.summary()
    assert not list(dst.parent.glob(".*"))  # no temporary file left


@pytest.mark.slow
def test_logits_and_reconstruction_match_torch(keras_model, images, torch_outputs):
    t_logits, t_rec = torch_outputs
    k_logits, k_rec = (np.asarray(o) for o in keras_model(images, training=False))
    assert k_logits.dtype == np.float32 and k_rec.shape == (2, 224, 224, 3)
    assert np.abs(t_logits).max() > 1e-2  # the comparison is not between two near-zero vectors
    assert np.abs(t_rec).std() > 1e-2
    print(f"max |dlogits| = {np.abs(k_logits - t_logits).max():.2e}, max |drec| = {np.abs(k_rec - t_rec).max():.2e}")
    np.testing.assert_allclose(k_logits, t_logits, atol=TOL, rtol=0)
    np.testing.assert_allclose(k_rec, t_rec, atol=TOL, rtol=0)


@pytest.mark.slow
def test_fp16_and_module_prefix_variants(tmp_path, reference, keras_model):
    state = {f"module.{k}": (v.half() if v.is_floating_point() and not k.startswith(("net_fet.1.", "dec.batchnorm")) else v)
             for k, v in reference.state_dict().items()}
    src = tmp_path / "fp16.pth.tar"
    torch.save(_checkpoint(state), src)
    arrays, report = coronanet_arrays_from_torch(src)
    assert report.dtype_casts["net_fet.0.weight"] == "float16->float32"
    assert "net_fet.1.weight" not in report.dtype_casts
    expected = keras_model.get_layer("net_fet_0").get_weights()[0]
    np.testing.assert_allclose(arrays["net_fet_0"][0], expected, atol=2e-3)
    model = build_coronanet(with_decoder=False)
    load_coronanet_weights(model, src)  # .pth directly, into a model without the decoder
    np.testing.assert_allclose(model.get_layer("classifier_6").get_weights()[0],
                               keras_model.get_layer("classifier_6").get_weights()[0], atol=1e-3)


@pytest.mark.slow
def test_bare_state_dict_and_h5_into_model_without_decoder(tmp_path, reference, converted, keras_model, images):
    src = tmp_path / "bare.pth"
    torch.save(reference.state_dict(), src)
    _, report = coronanet_arrays_from_torch(src)
    assert report.with_decoder and len(report.converted) == 160
    model = build_coronanet(with_decoder=False)
    load_coronanet_weights(model, converted[0])
    np.testing.assert_allclose(np.asarray(model(images[:1])), np.asarray(keras_model(images[:1])[0]), atol=1e-6)


def test_wrong_shape_names_the_key(tmp_path, reference):
    state = dict(reference.state_dict())
    state["classifier.2.weight"] = torch.zeros(31, 50)
    src = tmp_path / "bad.pth.tar"
    torch.save(_checkpoint(state), src)
    with pytest.raises(ValueError, match=r"classifier\.2\.weight.*\(31, 50\).*\(30, 50\)"):
        convert_torch_checkpoint(src, tmp_path / "bad.weights.h5")
    assert not (tmp_path / "bad.weights.h5").exists()


def test_missing_key_names_the_key(tmp_path, reference):
    state = dict(reference.state_dict())
    del state["net_fet.28.running_var"]
    with pytest.raises(KeyError, match=r"net_fet\.28\.running_var"):
        coronanet_arrays_from_torch(state)


@pytest.mark.slow
def test_torchvision_vgg16_bn_backbone(tmp_path, reference, keras_model):
    state = {k.replace("net_fet.", "features."): v for k, v in reference.state_dict().items() if k.startswith("net_fet.")}
    state["classifier.0.weight"] = torch.zeros(4096, 25088)[:2, :3]  # ImageNet head: ignored
    state["classifier.6.bias"] = torch.zeros(1000)
    src = tmp_path / "vgg16_bn.pth"
    torch.save(state, src)
    dst = tmp_path / "vgg16_bn.weights.h5"
    report = convert_torchvision_vgg16_bn(src, dst)
    assert {"classifier.0.weight", "classifier.6.bias"} <= set(report.ignored)
    for source in (dst, src):
        model = build_coronanet(num_classes=4, with_decoder=False, backbone_weights=source)
        for name in ("net_fet_0", "net_fet_41"):
            for a, b in zip(model.get_layer(name).get_weights(), keras_model.get_layer(name).get_weights()):
                np.testing.assert_array_equal(a, b)


def test_adam_l2_matches_torch_adam():
    from coronanet_tf.schedule import AdamL2

    rng = np.random.default_rng(0)
    w0, b0 = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    x, y = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)

    lin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w0))
        lin.bias.copy_(torch.from_numpy(b0))
    opt = torch.optim.Adam(lin.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(3):
        opt.zero_grad()
        ((lin(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().backward()
        opt.step()

    import keras
    import tensorflow as tf

    dense = keras.layers.Dense(3)
    dense.build((None, 4))
    dense.set_weights([w0.T, b0])
    kopt = AdamL2(learning_rate=1e-2, l2=1e-4)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((dense(x) - y) ** 2)
        kopt.apply_gradients(zip(tape.gradient(loss, dense.trainable_variables), dense.trainable_variables))
    np.testing.assert_allclose(dense.get_weights()[0], lin.weight.detach().numpy().T, atol=1e-6)
    np.testing.assert_allclose(dense.get_weights()[1], lin.bias.detach().numpy(), atol=1e-6)
    assert np.abs(w0.T - dense.get_weights()[0]).max() > 1e-3  # the weights did move


@pytest.mark.slow
def test_checkpoint_without_decoder(tmp_path, reference, keras_model):
    state = {k: v for k, v in reference.state_dict().items() if not k.startswith("dec.")}
    src = tmp_path / "nodec.pth.tar"
    torch.save(_checkpoint(state), src)
    report = convert_torch_checkpoint(src, tmp_path / "nodec.weights.h5")
    assert not report.with_decoder and len(report.missing) == 72 and "dec.upsample1.weight" in report.missing
    model = build_coronanet(with_decoder=False)
    load_coronanet_weights(model, tmp_path / "nodec.weights.h5")
    np.testing.assert_array_equal(model.get_layer("nscnn_0").get_weights()[0],
                                  keras_model.get_layer("nscnn_0").get_weights()[0])
    with pytest.raises(ValueError, match="no decoder weights"):
        load_coronanet_weights(build_coronanet(), tmp_path / "nodec.weights.h5")


def test_a_checkpoint_whose_metadata_holds_a_0d_numpy_array_converts_with_a_short_summary(
        tmp_path, reference, capsys):
    """Training scripts store ``best_prec1`` as ``np.array(acc)`` (a 0-d array): read with weights_only=True
    (NumPy's array rebuild allowed, no pickle code), and ``covid-cxr convert`` prints the report's summary."""
    from cxr_core.cli.main import main

    src, dst = tmp_path / "covid.pth.tar", tmp_path / "covid.weights.h5"
    torch.save({**_checkpoint(reference.state_dict()), "best_prec1": np.array(95.84), "lr": np.float64(1e-4)}, src)
    assert main(["convert", "coronanet", str(src), str(dst)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{src} -> {dst}: 160 tensors converted, ")
    assert len(out) < 1500 and "ConversionReport(" not in out
    assert dst.is_file()


@pytest.mark.slow
def test_golden_file_is_what_torch_computes_today():
    """tests/coronanet_tf/golden/convert_vgg_ae.npz (the torch-free check, test_convert_golden.py) is still
    what the PyTorch reference computes; if not, regenerate it: ``python -m tests.coronanet_tf.make_golden``."""
    from tests.coronanet_tf.golden_tensors import load_golden
    from tests.coronanet_tf.make_golden import golden_arrays

    stored, now = load_golden(), golden_arrays()
    assert list(stored["keys"]) == list(now["keys"]) and list(stored["shapes"]) == list(now["shapes"])
    for name in ("logits", "rec_grid", "rec_top", "rec_bottom"):
        np.testing.assert_allclose(stored[name], now[name], rtol=0, atol=1e-5, err_msg=name)
