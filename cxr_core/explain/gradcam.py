"""Grad-CAM explanations (Selvaraju et al. 2017) maps for the three models, as arrays.

Grad-CAM of class ``c`` at a convolutional layer with activations ``A`` (``[h', w', K]``):
``weights_k = mean_{i,j} d y_c / d A_ijk``, ``cam = ReLU(sum_k weights_k A_k)``, resized
(bilinear) to the input's height and width, then divided by its maximum so that each map lies in
[0, 1] (a map that is zero everywhere stays zero).

The score ``y_c`` is the pre-softmax score of class ``c``, as in the Grad-CAM paper: where the
output layer is a Dense layer with a softmax activation (CoroNet's ``dense_1``, each CVR-Net branch
head) its logit ``h W + b`` is computed from the layer's input and weights; CORONA-Net outputs
logits already (``output_kind="logits"``; multi-output models use their first output). A softmax
probability would give zero gradients wherever the softmax saturates. CVR-Net's averaged output is
a mean of softmax vectors with no logit of its own: its score is the averaged probability.

Layers:

* CoroNet: ``block14_sepconv2_act`` (5x5x2048 at 150x150) inside the nested ``xception`` member of
  the Sequential model [CN]. :func:`gradcam` finds a layer inside nested models: it runs the outer
  Sequential layer by layer and the nested model through a functional view that also returns the
  inner layer's output, all under one ``GradientTape``.
* CVR-Net: its output is an ``Average`` of five softmax branches, each reading one tapped feature map
  through global average pooling [CVR-T]. :func:`gradcam_branches` gives, for each branch, the
  Grad-CAM of that branch's softmax with respect to its own tapped map, and for the averaged output
  the sum over the five taps of the (ReLU-free) Grad-CAM maps of ``average_1`` with respect to each
  tap, resized, then ReLU and normalisation (the five tapped maps have different resolutions). The
  branches and taps are found by walking the graph back from the ``Average`` layer, so no paper
  package is imported here.
* CORONA-Net: ``net_fet_42``, the ReLU of the last VGG16-BN convolution (14x14x512 at 224x224) [CR].

Overlay figures and PNG files of these maps: :mod:`cxr_core.explain.overlays`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cxr_core.errors import CxrError

#: keras.layers class names treated as global pooling when tracing CVR-Net-style branches.
_GLOBAL_POOLS = ("GlobalAveragePooling2D", "GlobalMaxPooling2D")


@dataclass(frozen=True)
class Explanation:
    """Grad-CAM maps of one output of a model.

    name: ``"output"``, ``"branch k"`` or ``"averaged output"``. layer: the feature map's layer
    (several joined by ``+`` for the averaged output). heatmaps: ``[N, H, W]`` in [0, 1] at the
    input size. probabilities: ``[N, C]`` class probabilities of that output. target: ``[N]``
    class indices explained.
    """

    name: str
    layer: str
    heatmaps: np.ndarray
    probabilities: np.ndarray
    target: np.ndarray


# ----------------------------------------------------------------------------------------------
# finding layers and running a model with a tap
# ----------------------------------------------------------------------------------------------
def _is_model(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _contains(model, name: str) -> bool:
    for layer in model.layers:
        if layer.name == name or (_is_model(layer) and _contains(layer, name)):
            return True
    return False


def find_layer_path(model, name: str) -> list[str]:
    """Names from ``model`` down to the layer ``name``: ``["xception", "block14_sepconv2_act"]``
    for CoroNet's nested backbone, ``["net_fet_42"]`` for a layer of the model itself."""
    for layer in model.layers:
        if layer.name == name:
            return [name]
    for layer in model.layers:
        if _is_model(layer) and _contains(layer, name):
            return [layer.name] + find_layer_path(layer, name)
    raise CxrError(f"model {model.name!r}: no layer named {name!r} (searched nested models too); "
                     f"top-level layers: {[layer.name for layer in model.layers][:40]}")


def default_layer(model) -> str:
    """The last layer with a 4-D output (the last convolutional feature map), nested models included."""
    for layer in reversed(model.layers):
        if _is_model(layer):
            return default_layer(layer)
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4:
            return layer.name
    raise CxrError(f"model {model.name!r}: no layer with a 4-D (spatial) output for Grad-CAM")


def _first(out):
    if isinstance(out, (list, tuple)):
        return out[0]
    if isinstance(out, dict):
        return next(iter(out.values()))
    return out


def softmax_dense(layer) -> bool:
    """True when ``layer`` is a Dense layer with a softmax activation (its logit can be computed)."""
    import keras

    return (isinstance(layer, keras.layers.Dense)
            and getattr(layer.activation, "__name__", "") == "softmax")


def _dense_logits(layer, inputs):
    import keras

    z = keras.ops.matmul(inputs, keras.ops.cast(layer.kernel, inputs.dtype))
    if layer.use_bias:
        z = z + keras.ops.cast(layer.bias, inputs.dtype)
    return keras.ops.cast(z, "float32")


class _TapRunner:
    """Calls ``model`` on a batch; returns ``(feature maps of the layer path, first output, score)``.

    ``score`` is the pre-softmax logit vector when the output layer is a softmax Dense layer
    (CoroNet, CVR-Net branches), else the output itself.
    """

    def __init__(self, model, path: Sequence[str]):
        import keras

        self.model = model
        self.path = list(path)
        self.sequential = isinstance(model, keras.Sequential)
        if len(self.path) == 1:
            layer = model.get_layer(self.path[0])
            if not self.sequential:
                out = _first(model.outputs)
                last = _producer(out)
                self.last = last if softmax_dense(last) and last is not layer else None
                extra = [self.last.input] if self.last is not None else []
                self.view = keras.Model(model.inputs, [layer.output, out] + extra)
        else:
            if not self.sequential:
                raise NotImplementedError(
                    f"Grad-CAM at {'/'.join(self.path)}: the layer sits in a nested model of the "
                    f"functional model {model.name!r}; only Sequential outer models (a nested backbone) are "
                    "supported, or give a layer of the outer model")
            self.inner = _TapRunner(model.get_layer(self.path[0]), self.path[1:])

    def __call__(self, x):
        if not self.sequential and len(self.path) == 1:
            values = self.view(x, training=False)
            score = _dense_logits(self.last, values[2]) if self.last is not None else values[1]
            return values[0], values[1], score
        feature = None
        h = x
        score = None
        layers = self.model.layers
        for i, layer in enumerate(layers):
            if len(self.path) > 1 and layer.name == self.path[0]:
                feature, h, score = self.inner(h)
                continue
            if i == len(layers) - 1 and softmax_dense(layer) and feature is not None:
                score = _dense_logits(layer, h)
            h = _first(layer(h, training=False))
            if len(self.path) == 1 and layer.name == self.path[0]:
                feature = h
            if i != len(layers) - 1 or not softmax_dense(layer):
                score = h
        return feature, h, score


def _cam(feature, grads):
    """Unnormalised, un-ReLU'd Grad-CAM map ``[N, h', w']``."""
    import tensorflow as tf

    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.reduce_sum(weights * feature, axis=-1)


def _finish(cams, size) -> np.ndarray:
    """Resize to ``size``, ReLU, divide each map by its maximum -> ``[N, H, W]`` in [0, 1]."""
    import tensorflow as tf

    cams = tf.image.resize(tf.cast(cams, tf.float32)[..., None], size, method="bilinear")[..., 0]
    cams = tf.nn.relu(cams).numpy().astype(np.float32)
    peak = cams.reshape(len(cams), -1).max(axis=1)
    out = np.divide(cams, peak[:, None, None], out=np.zeros_like(cams), where=peak[:, None, None] > 0)
    return np.clip(out, 0.0, 1.0)


def _targets(target_class, n: int, probs: np.ndarray) -> np.ndarray:
    if target_class is None:
        return probs.argmax(axis=1).astype(np.int64)
    t = np.asarray(target_class, dtype=np.int64).reshape(-1)
    if t.size == 1:
        t = np.full(n, int(t[0]), dtype=np.int64)
    if t.size != n:
        raise CxrError(f"target_class: expected one class index or {n}, found {t.size}")
    c = probs.shape[1]
    if t.min() < 0 or t.max() >= c:
        raise CxrError(f"target_class: class indices must lie in [0, {c - 1}], found {t.tolist()}")
    return t


def _to_probabilities(out: np.ndarray, output_kind: str) -> np.ndarray:
    if output_kind == "logits":
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    return out


def gradcam_explanation(model, images, target_class=None, layer_name: str | None = None, *,
                        output_kind: str = "probabilities") -> Explanation:
    """Grad-CAM of the model's (first) output at ``layer_name`` (default: the last 4-D layer).

    ``images``: ``[N, H, W, 3]`` already scaled as the model expects. ``target_class``: a class
    index, one per image, or None for each image's predicted class.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    if x.shape.rank != 4:
        raise ValueError(f"gradcam: images must be [N, H, W, C], found shape {tuple(x.shape)}")
    layer_name = layer_name or default_layer(model)
    runner = _TapRunner(model, find_layer_path(model, layer_name))
    with tf.GradientTape() as tape:
        feature, out, scores = runner(x)
        out = tf.cast(out, tf.float32)
        probs = _to_probabilities(out.numpy(), output_kind)
        target = _targets(target_class, int(x.shape[0]), probs)
        score = tf.gather(tf.cast(scores, tf.float32), target, axis=1, batch_dims=1)
    if feature is None or len(feature.shape) != 4:
        raise CxrError(f"gradcam: layer {layer_name!r} has no spatial [N, h, w, C] output")
    grads = tape.gradient(score, feature)
    heat = _finish(_cam(feature, grads), tuple(x.shape[1:3]))
    return Explanation("output", layer_name, heat, probs, target)


def gradcam(model, images, target_class, layer_name: str | None = None, *,
            output_kind: str = "probabilities") -> np.ndarray:
    """Grad-CAM heat maps ``[N, H, W]`` in [0, 1], resized to the input (see module doc).

    ``layer_name`` may name a layer inside a nested model (CoroNet's ``block14_sepconv2_act``);
    ``target_class``: class index, one per image, or None for the predicted class.
    """
    return gradcam_explanation(model, images, target_class, layer_name,
                               output_kind=output_kind).heatmaps


# ----------------------------------------------------------------------------------------------
# ensembles of branches (CVR-Net)
# ----------------------------------------------------------------------------------------------
def _producer(tensor):
    return tensor._keras_history.operation


def average_branches(model) -> list[tuple[str, str]] | None:
    """``[(tapped layer, branch output layer), ...]`` when the model's output is an ``Average`` of
    branches that each read a feature map through global pooling (CVR-Net [CVR-T]); else None."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs or len(outputs) != 1:
        return None
    last = _producer(outputs[0])
    if type(last).__name__ != "Average":
        return None
    branches = []
    for tensor in last.input:
        head = _producer(tensor)
        layer = head
        for _ in range(50):
            if type(layer).__name__ in _GLOBAL_POOLS:
                break
            inputs = layer.input
            if isinstance(inputs, (list, tuple)):
                return None
            layer = _producer(inputs)
        else:
            return None
        branches.append((_producer(layer.input).name, head.name))
    return branches


def gradcam_branches(model, images, target_class=None) -> list[Explanation]:
    """CVR-Net Grad-CAM: one :class:`Explanation` per branch (its softmax w.r.t. its tapped map),
    then ``"averaged output"`` (the ``Average`` output w.r.t. all taps; see module doc).

    ``target_class`` None explains each image's class predicted by the averaged output.
    """
    import keras
    import tensorflow as tf

    branches = average_branches(model)
    if not branches:
        raise ValueError(f"model {model.name!r}: its output is not an Average of pooled branches")
    x = tf.convert_to_tensor(np.asarray(images, dtype=np.float32))
    taps = [model.get_layer(t).output for t, _ in branches]
    head_layers = [model.get_layer(h) for _, h in branches]
    heads = [layer.output for layer in head_layers]
    pre = [layer.input if softmax_dense(layer) else layer.output for layer in head_layers]
    view = keras.Model(model.inputs, taps + heads + pre + [model.outputs[0]])
    k = len(branches)
    with tf.GradientTape(persistent=True) as tape:
        values = view(x, training=False)
        feats, avg = values[:k], tf.cast(values[-1], tf.float32)
        outs = [tf.cast(v, tf.float32) for v in values[k:2 * k]]
        logits = [_dense_logits(layer, v) if softmax_dense(layer) else tf.cast(v, tf.float32)
                  for layer, v in zip(head_layers, values[2 * k:3 * k])]
        avg_probs = avg.numpy()
        target = _targets(target_class, int(x.shape[0]), avg_probs)
        scores = [tf.gather(z, target, axis=1, batch_dims=1) for z in logits]
        avg_score = tf.gather(avg, target, axis=1, batch_dims=1)
    size = tuple(x.shape[1:3])
    result = []
    for i, ((tap, head), feat, out, score) in enumerate(zip(branches, feats, outs, scores), 1):
        grads = tape.gradient(score, feat)
        result.append(Explanation(f"branch {i}", tap, _finish(_cam(feat, grads), size),
                                  out.numpy(), target))
    total = None
    for feat in feats:
        cam = _cam(feat, tape.gradient(avg_score, feat))
        cam = tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]
        total = cam if total is None else total + cam
    del tape
    result.append(Explanation("averaged output", "+".join(t for t, _ in branches),
                              _finish(total, size), avg_probs, target))
    return result
