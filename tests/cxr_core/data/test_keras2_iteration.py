"""Keras 2 steps per epoch and sample order against keras-preprocessing's own ``Iterator``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from keras_preprocessing.image import Iterator

from cxr_core.data.keras2_iteration import (
    STEPS_MODES,
    epoch_batches,
    floor_steps,
    steps_for_mode,
    training_index_batches,
    validation_index_batches,
)
from cxr_core.data.pipeline import PipelineSpec, build_dataset
from cxr_core.data.tables.sample_table import SampleTable


class IndexIterator(Iterator):
    """keras-preprocessing's Iterator yielding the sample indices of each batch."""

    def _get_batches_of_transformed_samples(self, index_array):
        return np.array(index_array)


def _flow_index_epochs(n, batch, steps, epochs):
    it = IndexIterator(n, batch, shuffle=False, seed=None)
    return [[next(it) for _ in range(steps)] for _ in range(epochs)]


def _enqueuer_epochs(n, batch, steps, epochs):
    """What Keras 2.3.1's OrderedEnqueuer feeds fit_generator: it[0..len-1], on_epoch_end, again."""
    it = IndexIterator(n, batch, shuffle=False, seed=None)

    def stream():
        while True:
            for i in range(len(it)):
                yield it[i]
            it.on_epoch_end()
    s = stream()
    return [[next(s) for _ in range(steps)] for _ in range(epochs)]


@pytest.mark.parametrize("n,batch", [(1119, 10), (277, 10), (1277, 8), (23, 5), (20, 5)])
def test_wraparound_equals_keras_preprocessing_iterator_unshuffled(n, batch):
    steps = floor_steps(n, batch)
    ours = epoch_batches("keras2_floor_wraparound", n, batch, steps, shuffle_samples=False,
                         shuffle_batches=False, seed=0)
    ours = [next(ours) for _ in range(7)]
    for ref in (_flow_index_epochs(n, batch, steps, 7), _enqueuer_epochs(n, batch, steps, 7)):
        assert len(ref) == len(ours)
        for e, (a, b) in enumerate(zip(ours, ref)):
            assert [x.tolist() for x in a] == [x.tolist() for x in b], f"epoch {e}"


def test_published_steps():
    """CoroNet 1,119 / 277 images in batches of 10 -> 111 / 27 steps [CN-old]; CVR-Net Task-1 fold 2
    5,080 / 1,277 in batches of 8 -> 635 / 159 [CVR-T]."""
    assert steps_for_mode("tf_keras_floor_restart", 1119, 277, 10) == (111, 27)
    assert steps_for_mode("keras2_floor_wraparound", 5080, 1277, 8) == (635, 159)
    assert steps_for_mode("full_pass", 5080, 1277, 8) == (None, None)
    assert set(STEPS_MODES) == {"full_pass", "keras2_floor_wraparound", "tf_keras_floor_restart"}
    with pytest.raises(ValueError, match="fewer than one batch"):
        floor_steps(7, 8, "validation")


def test_wraparound_shuffled_coverage_and_drift():
    """Shuffled: each pass is a permutation (no image dropped over a run); validation windows drift."""
    n, batch = 277, 10
    steps = floor_steps(n, batch)
    epochs = epoch_batches("keras2_floor_wraparound", n, batch, steps, shuffle_samples=True,
                           shuffle_batches=False, seed=3)
    flat = np.concatenate([np.concatenate(next(epochs)) for _ in range(28)])  # 28 epochs x 27 steps
    # 28 * 27 = 756 batches = 27 passes of 28 batches: each pass covers all 277 images once
    assert len(flat) == 27 * n
    for p in range(27):
        assert sorted(flat[p * n:(p + 1) * n].tolist()) == list(range(n))


def test_wraparound_shuffled_distribution_matches_keras_iterator():
    """Keras' Iterator(shuffle=True): every pass a uniform permutation. Compare position frequencies."""
    n, batch, passes = 12, 5, 3000
    it = IndexIterator(n, batch, shuffle=True, seed=None)
    np.random.seed(0)
    ref_first = np.array([next(it)[0] for _ in range(passes * 3)])[::3]  # first sample of each pass
    ours = epoch_batches("keras2_floor_wraparound", n, batch, 3, shuffle_samples=True, shuffle_batches=False, seed=0)
    our_first = np.array([next(ours)[0][0] for _ in range(passes)])
    for first in (ref_first, our_first):
        freq = np.bincount(first, minlength=n) / passes
        assert np.abs(freq - 1 / n).max() < 0.03


def test_restart_mode_each_epoch_a_fresh_pass():
    n, batch = 1119, 10
    steps = floor_steps(n, batch)
    epochs = epoch_batches("tf_keras_floor_restart", n, batch, steps, shuffle_samples=True,
                           shuffle_batches=False, seed=1)
    for _ in range(3):
        chosen = np.concatenate(next(epochs))
        assert len(chosen) == 1110 and len(set(chosen.tolist())) == 1110  # 9 images left out this epoch
    val = epoch_batches("tf_keras_floor_restart", 277, 10, 27, shuffle_samples=True, shuffle_batches=False, seed=1)
    assert all(len(np.concatenate(next(val))) == 270 for _ in range(5))  # always 27 full batches [CN-old]


def _table(n):
    frame = pd.DataFrame({
        "sample_id": [str(i) for i in range(n)], "path": ["unused"] * n, "label": ["a"] * n,
        "label_index": [0] * n, "patient_id": pd.array([pd.NA] * n, dtype="string"),
        "source": pd.array([pd.NA] * n, dtype="string"),
    })
    return SampleTable(frame=frame, class_names=("a",))


def test_build_dataset_follows_index_batches(cxr4_mini):
    paths = [str(cxr4_mini / p) for p in pd.read_csv(cxr4_mini / "MANIFEST.csv")["path"][:23]]
    table = _table(23)
    table.frame["path"] = paths
    table.frame["sample_id"] = [f"s{i}" for i in range(23)]
    spec = PipelineSpec((16, 16), "nearest", "raw255")
    train = training_index_batches("keras2_floor_wraparound", 23, 5, 4, epochs=3, first_epoch=0, seed=0)
    ds = build_dataset(table, spec, batch_size=5, include_ids=True, index_batches=train)
    got = [[int(s.decode()[1:]) for s in ids.numpy()] for _, _, ids in ds]
    want = [b.tolist() for b in train()]
    assert got == want and len(got) == 12
    # a resumed run (first_epoch=1) gets the same later epochs
    resumed = training_index_batches("keras2_floor_wraparound", 23, 5, 4, epochs=3, first_epoch=1, seed=0)
    assert [b.tolist() for b in resumed()] == want[4:]
    # validation: every new iteration (Keras 3 restarts it at each evaluation) is the next window
    val = validation_index_batches("keras2_floor_wraparound", 23, 5, 4, first_epoch=0, seed=0, shuffle=False)
    vds = build_dataset(table, spec, batch_size=5, include_ids=True, index_batches=val)
    windows = [[len(ids) for _, _, ids in vds] for _ in range(3)]
    assert windows == [[5, 5, 5, 5], [3, 5, 5, 5], [5, 3, 5, 5]]
    with pytest.raises(ValueError, match="cannot be combined with preprocess.cache"):
        build_dataset(table, PipelineSpec((16, 16), cache=True), batch_size=5, index_batches=train)


def test_keras3_fit_consumes_the_streams_as_keras2(cxr4_mini):
    """Through Keras 3 ``fit``: one training iterator over the run, one new validation window per epoch."""
    import keras

    from cxr_core.data.keras2_iteration import keras2_fit_plan

    paths = [str(cxr4_mini / p) for p in pd.read_csv(cxr4_mini / "MANIFEST.csv")["path"][:23]]
    table = _table(23)
    table.frame["path"] = paths
    steps, val_steps, train, val = keras2_fit_plan("keras2_floor_wraparound", 23, 23, 5, 3, 0, seed=0)
    assert (steps, val_steps) == (4, 4)
    calls = {"train": 0, "val": []}

    def counted_train():
        calls["train"] += 1
        yield from train()

    def counted_val():
        batches = list(val())
        calls["val"].append([len(b) for b in batches])
        yield from batches

    spec = PipelineSpec((8, 8), "nearest", "rescale01")
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(build_dataset(table, spec, batch_size=5, index_batches=counted_train), steps_per_epoch=steps,
              validation_data=build_dataset(table, spec, batch_size=5, index_batches=counted_val),
              validation_steps=val_steps, epochs=3, verbose=0)
    assert calls["train"] == 1
    assert len(calls["val"]) == 3 and all(len(w) == 4 for w in calls["val"])
    assert calls["val"] == [[5, 5, 5, 5], [3, 5, 5, 5], [5, 3, 5, 5]]  # the window drifts over the partial batch


@pytest.mark.parametrize("n,batch,epochs", [(1277, 8, 4), (23, 5, 7)])
def test_wraparound_equals_the_real_ordered_enqueuer(n, batch, epochs):
    """The real enqueuer code path: tf-keras' ``OrderedEnqueuer`` (whose ``_run`` loop is Keras 2.3.1's, tag
    2.3.1 ``keras/utils/data_utils.py``: every batch of a pass in order, then ``on_epoch_end``, again) over
    keras-preprocessing's ``Iterator``, read ``n // batch`` batches per epoch as Keras 2.3.1's
    ``fit_generator`` reads its one enqueuer per run [CVR-T]. Fails if an epoch restarted the pass."""
    from tf_keras.utils import OrderedEnqueuer

    steps = floor_steps(n, batch)
    enqueuer = OrderedEnqueuer(IndexIterator(n, batch, shuffle=False, seed=None), use_multiprocessing=False,
                               shuffle=False)
    enqueuer.start(workers=1, max_queue_size=4)
    try:
        stream = enqueuer.get()
        ref = [[next(stream) for _ in range(steps)] for _ in range(epochs)]
    finally:
        enqueuer.stop()
    ours = epoch_batches("keras2_floor_wraparound", n, batch, steps, shuffle_samples=False, shuffle_batches=False,
                         seed=0)
    for e, want in enumerate(ref):
        assert [x.tolist() for x in next(ours)] == [x.tolist() for x in want], f"epoch {e}"
    assert ref[1][0].tolist() != list(range(batch))  # the second epoch continues the stream


def test_restart_mode_equals_tf_keras_fit_on_a_sequence():
    """tf-keras ``Model.fit`` on a ``Sequence`` with ``steps_per_epoch`` / ``validation_steps`` (CoroNet's
    notebook, tf.keras on TF 2 [CN]): the batches each epoch's training and validation steps actually
    consumed, recorded inside ``train_step`` / ``test_step``, equal ``tf_keras_floor_restart``'s: a fresh
    pass every epoch (a wrap-around stream would start epoch 2 with the partial batch)."""
    import tf_keras

    n, batch, steps, epochs = 23, 5, 4, 3
    seen = {"train": [], "val": []}

    class Batches(tf_keras.utils.Sequence):
        def __len__(self):
            return -(-n // batch)

        def __getitem__(self, i):
            idx = np.arange(n)[i * batch:(i + 1) * batch]
            return idx[:, None].astype("float32"), np.zeros((len(idx), 1), "float32")

    class Recorder(tf_keras.Model):
        def train_step(self, data):
            seen["train"].append(data[0].numpy()[:, 0].astype(int).tolist())
            return {}

        def test_step(self, data):
            seen["val"].append(data[0].numpy()[:, 0].astype(int).tolist())
            return {}

    inputs = tf_keras.Input((1,))
    model = Recorder(inputs, tf_keras.layers.Dense(1)(inputs))
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(Batches(), steps_per_epoch=steps, validation_data=Batches(), validation_steps=steps, epochs=epochs,
              shuffle=False, verbose=0)
    ours = epoch_batches("tf_keras_floor_restart", n, batch, steps, shuffle_samples=False, shuffle_batches=False,
                         seed=0)
    want = [b.tolist() for _ in range(epochs) for b in next(ours)]
    assert seen["train"] == want and seen["val"] == want
    wrap = epoch_batches("keras2_floor_wraparound", n, batch, steps, shuffle_samples=False, shuffle_batches=False,
                         seed=0)
    assert [b.tolist() for _ in range(epochs) for b in next(wrap)] != seen["train"]
