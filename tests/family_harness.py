"""One contract test for every model family (keras-hub's ``run_backbone_test`` style).

Each family's test file describes its smallest model and its published parameter counts in a
:class:`FamilyCase` and calls :func:`run_family_test`; the checks live here once instead of a
hand-written copy per paper:

- ``build``: ``family.model.build(**case.build)`` gives a Keras model whose (first) output is
  ``[N, num_classes]`` float32, finite on a random batch; softmax rows sum to 1 where the family
  says ``output_kind="probabilities"``.
- ``save_load``: a ``.keras`` round trip in safe mode predicts the same (to 1e-6), and weights saved
  with ``save_weights`` load into a fresh build (``model.load_weights``; the family's own hook reads the
  authors' formats and is tested with the family).
- ``mixed_precision``: the ``build`` output checks on a model built under ``mixed_float16``, whose
  hidden layers compute in float16 while every output stays float32 (the policy in force before is
  restored, whatever happens).
- ``fit``: two steps of Adam (``batch`` random images each, eager) give a finite loss, leave every
  weight finite and change some.
- ``published_counts``: ``(total, trainable, non-trainable)`` of each published configuration equals
  the number the paper or the authors' code printed (the expected values are written in the family's
  test file from the text, with the source tag; never taken from our own output).

The published models have tens of millions of parameters: on a 2-core CPU a build takes 5-15 s, a
``.keras`` round trip 15-60 s, two training steps 20-60 s. Family test files therefore run
:data:`FAST_PARTS` in the fast tier and :data:`SLOW_PARTS` under ``@pytest.mark.slow`` (the tiny test
family runs everything fast: tests/test_family_harness.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

PARTS = ("build", "save_load", "mixed_precision", "fit", "published_counts")
#: the fast tier: one build (under mixed_float16) with the output checks of ``build``
FAST_PARTS = ("mixed_precision",)
#: tens of seconds for a real backbone on a CPU: ``@pytest.mark.slow``
SLOW_PARTS = ("build", "save_load", "fit", "published_counts")


@dataclass(frozen=True)
class PublishedCount:
    """A published parameter count: the build arguments that reproduce the configuration, the
    ``(total, trainable, non_trainable)`` counts (``None`` where the source gives no figure), the tag."""

    build: Mapping[str, Any]
    counts: tuple[int | None, int | None, int | None]
    source: str


@dataclass(frozen=True)
class FamilyCase:
    """What the harness needs from a family's test file.

    ``build``: keyword arguments of ``family.model.build`` for the smallest model the family allows
    (``num_classes`` and ``input_shape`` at least; ``backbone_weights=None`` is added). ``published``:
    the counts to reproduce. ``fit_build``: other build arguments for the fit (e.g. a single-output
    variant); default ``build``.
    """

    build: Mapping[str, Any]
    published: Sequence[PublishedCount] = ()
    fit_build: Mapping[str, Any] | None = None
    batch: int = 2


def count_params(model) -> tuple[int, int, int]:
    """``(total, trainable, non_trainable)`` summed over the model's weight shapes."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return trainable + frozen, trainable, frozen


def _family(family):
    from cxr_core.family import get_family

    return get_family(family) if isinstance(family, str) else family


def _build(family, kwargs: Mapping[str, Any]):
    return family.model.build(**{"backbone_weights": None, **kwargs})


def _outputs(model, x) -> list[np.ndarray]:
    out = model(x, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _batch(case: FamilyCase, seed: int = 0) -> np.ndarray:
    shape = tuple(case.build["input_shape"])
    return np.random.default_rng(seed).uniform(0.0, 1.0, (case.batch, *shape)).astype(np.float32)


def check_build(family, case: FamilyCase):
    model = _build(family, case.build)
    _check_outputs(family, case, model)
    return model


def _check_outputs(family, case: FamilyCase, model) -> None:
    num_classes = case.build["num_classes"]
    first = model.outputs[0]
    assert tuple(first.shape) == (None, num_classes), f"{family.name}: class output {first.shape}"
    outputs = _outputs(model, _batch(case))
    assert all(np.isfinite(o).all() for o in outputs), f"{family.name}: non-finite output"
    assert outputs[0].dtype == np.float32, f"{family.name}: class output is {outputs[0].dtype}, not float32"
    if family.model.output_kind == "probabilities":
        np.testing.assert_allclose(outputs[0].sum(axis=1), 1.0, atol=1e-5,
                                   err_msg=f"{family.name}: softmax rows do not sum to 1")


def check_save_load(family, case: FamilyCase, tmp_path: Path, model=None) -> None:
    import keras

    model = model if model is not None else _build(family, case.build)
    x = _batch(case, seed=1)
    expected = _outputs(model, x)
    path = Path(tmp_path) / f"{family.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    for a, b in zip(_outputs(loaded, x), expected):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=f"{family.name}: .keras round trip")
    weights = Path(tmp_path) / f"{family.name}.weights.h5"
    model.save_weights(weights)
    fresh = _build(family, case.build)
    fresh.load_weights(weights)
    for a, b in zip(_outputs(fresh, x), expected):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=f"{family.name}: .weights.h5 round trip")


def check_mixed_precision(family, case: FamilyCase):
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _build(family, case.build)
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.config.dtype_policy().name == previous.name
    _check_outputs(family, case, model)
    computes = {layer.compute_dtype for layer in _all_layers(model) if layer.weights}
    assert "float16" in computes, f"{family.name}: no layer computes in float16 under mixed_float16"
    for out in model.outputs:
        assert keras.backend.standardize_dtype(out.dtype) == "float32", f"{family.name}: output {out.dtype}"
    return model


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def check_fit(family, case: FamilyCase) -> None:
    import keras

    kwargs = case.fit_build if case.fit_build is not None else case.build
    model = _build(family, kwargs)
    num_classes = kwargs["num_classes"]
    x = np.concatenate([_batch(case, seed=2), _batch(case, seed=3)])
    y = keras.utils.to_categorical(np.arange(len(x)) % num_classes, num_classes)
    from_logits = family.model.output_kind == "logits"
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=from_logits),
                  run_eagerly=True)  # two steps: tracing a train graph of a big backbone costs more
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=case.batch, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all(), f"{family.name}: loss {history.history['loss']}"
    after = [w.numpy() for w in model.trainable_weights]
    assert all(np.isfinite(w).all() for w in after), f"{family.name}: NaN weights after two steps"
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), f"{family.name}: fit changed nothing"


def check_published_counts(family, case: FamilyCase) -> None:
    wrong = []
    for published in case.published:
        counts = count_params(_build(family, published.build))
        expected = published.counts
        if any(e is not None and e != c for e, c in zip(expected, counts)):
            wrong.append(f"{dict(published.build)}: {counts}, published {expected} {published.source}")
    assert not wrong, f"{family.name}: parameter counts differ from the published ones:\n  " + "\n  ".join(wrong)


def run_family_test(family, case: FamilyCase, tmp_path: Path | None = None, parts: Sequence[str] = FAST_PARTS):
    """Run the contract checks ``parts`` (of :data:`PARTS`) on ``family`` (a name or a ModelFamily).
    ``tmp_path`` is needed for ``save_load``. Returns the models built by ``build`` and
    ``mixed_precision`` (by part name) for the family's own extra assertions. Raises
    ``AssertionError`` naming the family and the check."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"run_family_test: unknown parts {sorted(unknown)}; known: {list(PARTS)}")
    family = _family(family)
    models = {}
    if "build" in parts:
        models["build"] = check_build(family, case)
    if "save_load" in parts:
        if tmp_path is None:
            raise ValueError("run_family_test: the save_load part needs tmp_path")
        check_save_load(family, case, tmp_path, models.get("build"))
    if "mixed_precision" in parts:
        models["mixed_precision"] = check_mixed_precision(family, case)
    if "fit" in parts:
        check_fit(family, case)
    if "published_counts" in parts:
        check_published_counts(family, case)
    return models
