"""build_dataset: values, order, seeding, caching before augmentation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from keras_preprocessing.image import load_img

from cxr_core.data.augment.keras2 import Keras2AugmentSpec
from cxr_core.data.pipeline import PipelineSpec, build_dataset
from cxr_core.data.tables.sample_table import SampleTable
from cxr_core.seeds import augmentation_seed

CLASSES = ("covid", "normal", "pneumonia_bacterial", "pneumonia_viral")
CORONET = Keras2AugmentSpec(
    rotation_range=50, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.25,
    zoom_range=0.1, channel_shift_range=20, horizontal_flip=True, vertical_flip=True,
)
SIZE = (64, 64)  # small: the pipeline logic does not depend on the size


def _table(root: Path, rows: pd.DataFrame) -> SampleTable:
    frame = pd.DataFrame({
        "sample_id": list(rows["path"]),
        "path": [str(root / p) for p in rows["path"]],
        "label": list(rows["class"]),
        "label_index": [CLASSES.index(c) for c in rows["class"]],
        "patient_id": list(rows["patient_id"]),
        "source": list(rows["source_repo"]),
    })
    return SampleTable(frame=frame, class_names=CLASSES)


@pytest.fixture(scope="module")
def table(cxr4_mini) -> SampleTable:
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv")
    return _table(cxr4_mini, manifest.iloc[::8].reset_index(drop=True))  # 24 images, 4 classes


def _collect(ds, n_epochs=1):
    epochs = []
    for _ in range(n_epochs):
        epochs.append([tuple(t.numpy() for t in batch) for batch in ds])
    return epochs


def _stack(epoch, k):
    return np.concatenate([b[k] for b in epoch])


def test_values_order_and_labels_without_augmentation(table):
    spec = PipelineSpec((150, 150), "nearest", "rescale01")
    (epoch,) = _collect(build_dataset(table, spec, batch_size=5, include_ids=True))
    assert [b[0].shape[0] for b in epoch] == [5, 5, 5, 5, 4]
    x, y, ids = _stack(epoch, 0), _stack(epoch, 1), _stack(epoch, 2)
    assert x.dtype == np.float32 and y.dtype == np.float32 and x.shape == (24, 150, 150, 3)
    assert [i.decode() for i in ids] == list(table.frame["sample_id"])  # table order
    np.testing.assert_array_equal(y, np.eye(4, dtype=np.float32)[table.labels])
    for i in (0, 7, 23):
        ref = np.asarray(load_img(table.frame["path"][i], target_size=(150, 150)), np.float32) / 255.0
        np.testing.assert_array_equal(x[i], ref)  # Keras flow_from_directory(rescale=1/255) pixels


def test_two_element_batches_drop_remainder_and_scaling(table):
    spec = PipelineSpec(SIZE, "bilinear", "imagenet")
    ds = build_dataset(table, spec, batch_size=5, drop_remainder=True)
    assert ds.element_spec[0].shape.as_list() == [5, SIZE[0], SIZE[1], 3]
    assert len(ds.element_spec) == 2
    (epoch,) = _collect(ds)
    assert len(epoch) == 4
    raw = _stack(_collect(build_dataset(table, PipelineSpec(SIZE, "bilinear", "raw255"), batch_size=5,
                                        drop_remainder=True))[0], 0)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(_stack(epoch, 0), (raw / 255 - mean) / std, atol=1e-5)


def test_same_seed_same_batches_epochs_differ(table):
    spec = PipelineSpec(SIZE, augment=CORONET)
    kwargs = dict(batch_size=6, shuffle=True, augment=True, seed=11, include_ids=True)
    a = _collect(build_dataset(table, spec, **kwargs), n_epochs=2)
    b = _collect(build_dataset(table, spec, **kwargs), n_epochs=2)
    for ea, eb in zip(a, b):
        for k in range(3):
            np.testing.assert_array_equal(_stack(ea, k), _stack(eb, k))
    assert not np.array_equal(_stack(a[0], 2), _stack(a[1], 2))  # reshuffled each epoch
    assert sorted(_stack(a[0], 2)) == sorted(_stack(a[1], 2))  # a permutation of the table
    c = _collect(build_dataset(table, spec, **{**kwargs, "seed": 12}))
    assert not np.array_equal(_stack(a[0], 0), _stack(c[0], 0))


def test_augmentation_off_and_none_are_identical(table):
    plain = _stack(_collect(build_dataset(table, PipelineSpec(SIZE), batch_size=8))[0], 0)
    off = _stack(_collect(build_dataset(table, PipelineSpec(SIZE, augment=CORONET), batch_size=8))[0], 0)
    none = _stack(_collect(build_dataset(table, PipelineSpec(SIZE), batch_size=8, augment=True))[0], 0)
    np.testing.assert_array_equal(plain, off)
    np.testing.assert_array_equal(plain, none)
    aug = _stack(_collect(build_dataset(table, PipelineSpec(SIZE, augment=CORONET), batch_size=8, augment=True))[0], 0)
    assert aug.shape == plain.shape and not np.allclose(aug, plain)
    assert aug.min() >= 0.0 and aug.max() <= 1.0


def test_flips_only_are_exact_flips(table):
    spec = PipelineSpec(SIZE, augment=Keras2AugmentSpec(horizontal_flip=True, vertical_flip=True),
                        scaling="raw255")
    plain = _stack(_collect(build_dataset(table, PipelineSpec(SIZE, scaling="raw255"), batch_size=8))[0], 0)
    aug = _stack(_collect(build_dataset(table, spec, batch_size=8, augment=True))[0], 0)
    kinds = set()
    for p, a in zip(plain, aug):
        matches = [name for name, f in (("none", p), ("h", p[:, ::-1]), ("v", p[::-1]), ("hv", p[::-1, ::-1]))
                   if np.array_equal(f, a)]
        assert matches, "a flips-only augmentation must return an exact flip"
        kinds.add(matches[0])
    assert len(kinds) >= 3


@pytest.mark.parametrize("cache_kind", ["memory", "file"])
def test_cache_holds_resized_images_and_augmentation_stays_random(tmp_path, cxr4_mini, cache_kind):
    manifest = pd.read_csv(cxr4_mini / "MANIFEST.csv").iloc[::16].reset_index(drop=True)  # 12 images
    copy_root = tmp_path / "images"
    for p in manifest["path"]:
        (copy_root / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(cxr4_mini / p, copy_root / p)
    table = _table(copy_root, manifest)
    cache = True if cache_kind == "memory" else str(tmp_path / "cache" / "train")
    spec = PipelineSpec(SIZE, augment=CORONET, cache=cache)
    ds = build_dataset(table, spec, batch_size=4, shuffle=True, augment=True, seed=5, include_ids=True)
    first = _collect(ds)[0]
    if cache_kind == "file":
        assert len(list((tmp_path / "cache").glob("train.*.index"))) == 1
        # a rebuilt dataset with the same cache prefix, files and resize settings reuses that cache file,
        # which holds the resized, un-augmented images
        plain = build_dataset(table, PipelineSpec(SIZE, cache=cache, scaling="raw255"), batch_size=12)
        x = next(iter(plain))[0].numpy()
        assert len(list((tmp_path / "cache").glob("train.*.index"))) == 1
        for i in (0, 11):
            ref = np.asarray(load_img(str(cxr4_mini / manifest["path"][i]), target_size=SIZE), np.float32)
            np.testing.assert_array_equal(x[i], ref)
        # an image rewritten in place gets a new cache, never the stale pixels
        changed = copy_root / manifest["path"][0]
        changed.write_bytes(changed.read_bytes())
        os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
        next(iter(build_dataset(table, PipelineSpec(SIZE, cache=cache), batch_size=12)))
        assert len(list((tmp_path / "cache").glob("train.*.index"))) == 2
    shutil.rmtree(copy_root)  # from now on only the cache can supply the images
    second = _collect(ds)[0]
    assert sorted(_stack(first, 2)) == sorted(_stack(second, 2))
    assert not np.array_equal(_stack(first, 0), _stack(second, 0))  # re-augmented


def test_cached_and_uncached_shuffle_orders_agree(table):
    kwargs = dict(batch_size=24, shuffle=True, seed=3, include_ids=True)
    a = _collect(build_dataset(table, PipelineSpec(SIZE), **kwargs), 2)
    b = _collect(build_dataset(table, PipelineSpec(SIZE, cache=True), **kwargs), 2)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(_stack(ea, 2), _stack(eb, 2))
        np.testing.assert_array_equal(_stack(ea, 0), _stack(eb, 0))


def test_repeat_is_infinite_and_reshuffles(table):
    ds = build_dataset(table, PipelineSpec(SIZE), batch_size=24, shuffle=True, seed=1, repeat=True,
                       include_ids=True)
    batches = [b[2].numpy() for b in ds.take(3)]
    assert all(sorted(b) == sorted(batches[0]) for b in batches)
    assert not np.array_equal(batches[0], batches[1])


def test_fast_jpeg_decode_option(table):
    fast = _stack(_collect(build_dataset(table, PipelineSpec(SIZE, fast_jpeg_decode=True), batch_size=8))[0], 0)
    exact = _stack(_collect(build_dataset(table, PipelineSpec(SIZE), batch_size=8))[0], 0)
    assert fast.shape == exact.shape and np.abs(fast - exact).mean() < 0.05


def test_spec_and_argument_errors(table):
    with pytest.raises(ValueError, match="resize_method"):
        PipelineSpec(SIZE, resize_method="cubic")
    with pytest.raises(ValueError, match="scaling"):
        PipelineSpec(SIZE, scaling="z")
    with pytest.raises(ValueError, match="image_size"):
        PipelineSpec((0, 10))
    with pytest.raises(ValueError, match="empty"):
        build_dataset(table.subset([]), PipelineSpec(SIZE), batch_size=2)
    bad = SampleTable(table.frame.assign(label_index=7), CLASSES)
    with pytest.raises(ValueError, match="label_index"):
        build_dataset(bad, PipelineSpec(SIZE), batch_size=2)


@pytest.mark.parametrize("scaling", ["rescale01", "imagenet"])
def test_gray_fast_path_equals_three_channel_augmentation(table, scaling):
    """Gray batches are decoded, augmented and scaled as one channel: values equal the 3-channel path."""
    import tensorflow as tf

    from cxr_core.data.augment.keras2 import apply_transform, sample_transform_params
    from cxr_core.data.decode.images import decode_to_uint8_rgb, scale_pixels
    from cxr_core.data.decode.resize import resize_to_uint8

    spec = PipelineSpec(SIZE, "nearest", scaling, augment=CORONET)
    ds = build_dataset(table, spec, batch_size=6, augment=True, seed=5, include_ids=True)
    seeds = tf.data.Dataset.random(seed=augmentation_seed(5), rerandomize_each_iteration=True).batch(2)
    n_gray = 0
    for (x, _, ids), seed in zip(ds, seeds):
        paths = [table.frame.set_index("sample_id").loc[i.decode(), "path"] for i in ids.numpy()]
        raw = np.stack([
            resize_to_uint8(decode_to_uint8_rgb(tf.io.read_file(p)), SIZE, "nearest").numpy() for p in paths
        ]).astype(np.float32)
        n_gray += int(all(np.array_equal(r[..., 0], r[..., 1]) and np.array_equal(r[..., 0], r[..., 2]) for r in raw))
        params = sample_transform_params(CORONET, SIZE, seed, batch_size=len(raw))
        expected = scale_pixels(apply_transform(raw, params, CORONET), scaling).numpy()
        np.testing.assert_array_equal(x.numpy(), expected)
    assert n_gray >= 1, "the sample holds at least one all-gray batch"


def test_pipeline_nearest_equals_keras_on_every_mini_image(cxr4_mini):
    """Inside tf.data (graph mode) too, every cxr4-mini image equals Keras' load_img bit for bit."""
    from keras_preprocessing.image import img_to_array

    full = _table(cxr4_mini, pd.read_csv(cxr4_mini / "MANIFEST.csv"))
    ds = build_dataset(full, PipelineSpec((150, 150), "nearest", "raw255"), batch_size=32, include_ids=True)
    by_id = full.frame.set_index("sample_id")["path"]
    for x, _, ids in ds:
        for img, sid in zip(x.numpy(), ids.numpy()):
            ref = img_to_array(load_img(by_id[sid.decode()], target_size=(150, 150)))
            np.testing.assert_array_equal(img, ref, err_msg=sid.decode())


def test_a_shared_file_cache_never_serves_labels_of_another_class_order(cxr4_mini, tmp_path):
    """The cache holds pixels only; labels and ids come from the table being read."""
    from cxr_core.data.pipeline import PipelineSpec, build_dataset
    from cxr_core.data.tables.readers import read_class_folders
    from cxr_core.data.tables.sample_table import remap_labels

    table = read_class_folders(cxr4_mini)
    table = table.subset(np.concatenate([np.flatnonzero(table.labels == c)[:2] for c in range(4)]))
    spec = PipelineSpec(image_size=(32, 32), cache=str(tmp_path / "cache"))
    first = np.concatenate([y for _, y in build_dataset(table, spec, batch_size=4)])
    np.testing.assert_array_equal(first.argmax(1), table.labels)
    other = remap_labels(table, {"pneumonia_bacterial": "pneumonia", "pneumonia_viral": "pneumonia"},
                         ("pneumonia", "normal", "covid"))
    second = np.concatenate([y for _, y in build_dataset(other, spec, batch_size=4)])
    np.testing.assert_array_equal(second.sum(1), 1.0)
    np.testing.assert_array_equal(second.argmax(1), other.labels)
