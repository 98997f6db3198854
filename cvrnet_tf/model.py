"""CVR-Net: a multi-scale, multi-encoder ensemble of ResNet50 and Xception (Hasan & Alam 2020).

Architecture as the authors' notebook builds it [CVR-T] (paper text not retrieved; the abstract
describes "a multi-scale-multi-encoder ensemble" that "aggregated the outputs from two different
encoders and their different scales" [S2]):

- one input, shared by a ResNet50 and an Xception without their tops; every layer of the first is
  prefixed ``res_``, of the second ``xce_`` (the authors renamed them so, [CVR-T]);
- five branches, each ``GlobalAveragePooling2D -> Dense 512 relu -> Dense 128 relu -> Dense 64 relu
  (MKH_k) -> Dense num_classes softmax``, tapping (1) ``concatenate([ResNet50 output, Xception
  output])``, (2) the end of ResNet50 stage 4, (3) the end of ResNet50 stage 3, (4) Xception
  ``block4_sepconv2_bn``, (5) Xception ``block13_sepconv2_bn`` (docs/PAPERS.md §2.1);
- output: ``Average`` of the five softmax vectors.

Layer names are those of the authors' saved model, so that their ``Model_task_{t}_Fold_{f}.hdf5``
files map one to one: ``res_conv1`` ... ``res_activation_49``, ``xce_block1_conv1`` ...
``xce_conv2d_1..4`` / ``xce_batch_normalization_1..4`` (Xception's anonymous residual layers),
``global_average_pooling2d_1..5``, ``concatenate_1``, branch k: ``dense_{3k-2}`` (512),
``dense_{3k-1}`` (128), ``MKH_k`` (64), ``dense_{3k}`` (softmax), ``average_1`` [CVR-T].

Both backbones are written out here (no ``keras.applications`` model is instantiated unless ImageNet
weights are asked for) so that every layer name is fixed and does not depend on Keras' global name
counters.

ResNet50 flavours (option ``resnet``; docs/PAPERS.md §2.7 item 2):
- ``"legacy"`` (default, faithful): Keras 2.3.1 / keras-applications 1.0.8 ``resnet50.py`` [KA]:
  BatchNormalization epsilon 1e-3 (Keras default), ``he_normal`` conv initializers, legacy layer names
  (``conv1``, ``bn_conv1``, ``res2a_branch2a``, ``bn2a_branch2a``, ``res2a_branch1``,
  ``activation_N``, ``add_N``, ``max_pooling2d_1``, numbered from 1 as Keras 2.3.1 did). Taps:
  ``res_activation_22`` (stage 3) and ``res_activation_40`` (stage 4), as in the notebook.
- ``"keras"``: the Keras 3 ``keras.applications.ResNet50`` (``resnet_common``): epsilon 1.001e-5 and
  names ``conv1_conv``, ``conv2_block1_1_conv`` ... ``conv5_block3_out``. Same layers and shapes;
  outputs differ from ``"legacy"`` with the same weights by about 2e-2 relative because of epsilon
  (docs/VERIFIED.md §3). Taps: ``res_conv3_block4_out`` and ``res_conv4_block6_out``.
Xception is the same in both (epsilon 1e-3 in keras-applications 1.0.8 and in Keras 3) [KA].

Input scaling (option ``input_scaling``; docs/PAPERS.md §2.7 item 1) happens inside the model:
- ``"raw255"`` (faithful): the authors feed raw 0-255 RGB into both ImageNet backbones; no
  ``preprocess_input`` is ever called [CVR-T] (docs/PAPERS.md §2.2);
- ``"imagenet"``: each backbone's own ImageNet preprocessing: ResNet50 "caffe" (RGB->BGR, minus the
  BGR mean 103.939/116.779/123.68) and Xception "tf" (x/127.5 - 1);
- ``"rescale01"``: x/255 into both.

Deviations from the authors' code: none in the graph. Softmax and average layers run in float32
so that the model can train under a mixed-precision policy (the authors trained in float32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
from keras import layers

from .backbone import load_backbone_weights
from .layer_names import RES_PREFIX, RESNET_FLAVOURS, RESNET_STAGES, XCE_PREFIX, resnet_conv_names
from cxr_core.errors import CxrError

INPUT_SCALINGS = ("raw255", "imagenet", "rescale01")
HEAD_UNITS = (512, 128, 64)
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="cvrnet_tf")
class CaffePreprocess(layers.Layer):
    """ImageNet "caffe" preprocessing of Keras' ResNet50: RGB -> BGR, then minus the BGR mean [KA]."""

    def call(self, inputs):
        bgr = keras.ops.flip(inputs, axis=-1)
        mean = keras.ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=bgr.dtype)
        return bgr - mean

    def compute_output_shape(self, input_shape):
        return input_shape


# --------------------------------------------------------------------------------------------- ResNet50
class _Namer:
    """Keras 2.3.1-style numbered names (``activation_1``, ``add_1`` ...), counted from ``start``."""

    def __init__(self, prefix: str, start: dict[str, int] | None = None) -> None:
        self.prefix = prefix
        self.counts = dict(start or {})

    def __call__(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{self.prefix}{kind}_{self.counts[kind]}"


def _resnet50(x, flavour: str, prefix: str = RES_PREFIX) -> dict[str, object]:
    """ResNet50 v1 without top on tensor ``x``; returns the stage-3, stage-4 and final tensors.

    Re-implemented from keras-applications 1.0.8 ``resnet50.py`` (legacy) and Keras 3
    ``resnet.py`` (keras) [KA]: the stride sits on the first 1x1 conv of each stage's first block;
    stage 2 uses stride 1.
    """
    legacy = flavour == "legacy"
    eps = 1e-3 if legacy else 1.001e-5
    init = "he_normal" if legacy else "glorot_uniform"
    numbered = _Namer(prefix)

    def bn(name):
        return layers.BatchNormalization(axis=3, epsilon=eps, name=prefix + name)

    def relu(name):
        return layers.Activation("relu", name=numbered("activation") if legacy else prefix + name)

    x = layers.ZeroPadding2D(padding=(3, 3), name=prefix + "conv1_pad")(x)
    x = layers.Conv2D(64, 7, strides=2, padding="valid", kernel_initializer=init,
                      name=prefix + ("conv1" if legacy else "conv1_conv"))(x)
    x = bn("bn_conv1" if legacy else "conv1_bn")(x)
    x = relu("conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=(1, 1), name=prefix + "pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name=numbered("max_pooling2d") if legacy else prefix + "pool1_pool")(x)

    taps = {}
    for stage, n_blocks, (f1, f2, f3) in RESNET_STAGES:
        for block in range(1, n_blocks + 1):
            stride = (1 if stage == 2 else 2) if block == 1 else 1
            base = f"conv{stage}_block{block}_"
            shortcut = x
            y = x
            for unit, (filters, kernel) in enumerate(((f1, 1), (f2, 3), (f3, 1)), start=1):
                conv_name, bn_name = resnet_conv_names(flavour, stage, block, unit)
                y = layers.Conv2D(filters, kernel, strides=stride if unit == 1 else 1,
                                  padding="same" if kernel == 3 else "valid", kernel_initializer=init,
                                  name=prefix + conv_name)(y)
                y = bn(bn_name)(y)
                if unit < 3:
                    y = relu(f"{base}{unit}_relu")(y)
            if block == 1:
                conv_name, bn_name = resnet_conv_names(flavour, stage, block, 0)
                shortcut = layers.Conv2D(f3, 1, strides=stride, kernel_initializer=init,
                                         name=prefix + conv_name)(x)
                shortcut = bn(bn_name)(shortcut)
            y = layers.Add(name=numbered("add") if legacy else prefix + base + "add")([y, shortcut])
            x = relu(base + "out")(y)
        taps[stage] = x
    return {"stage3": taps[3], "stage4": taps[4], "output": taps[5]}


# --------------------------------------------------------------------------------------------- Xception
def _xception(x, prefix: str = XCE_PREFIX, add_start: int = 16) -> dict[str, object]:
    """Xception without top on tensor ``x`` (keras-applications 1.0.8 ``xception.py`` = Keras 3) [KA].

    Returns the ``block4_sepconv2_bn``, ``block13_sepconv2_bn`` and final (``block14_sepconv2_act``)
    tensors. The four residual 1x1 convs and their BNs, anonymous in the original, get the Keras
    2.3.1 names of the authors' model (``conv2d_1..4``, ``batch_normalization_1..4``) and the adds
    ``add_17..28`` (numbered after ResNet50's 16 adds, as in the notebook [CVR-T]).
    """
    numbered = _Namer(prefix, {"add": add_start})

    def bn(name=None):
        return layers.BatchNormalization(axis=-1, name=prefix + name if name else numbered("batch_normalization"))

    def sep(filters, name):
        return layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=prefix + name)

    def act(name):
        return layers.Activation("relu", name=prefix + name)

    def residual_conv(filters, tensor):
        r = layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False, name=numbered("conv2d"))(tensor)
        return bn()(r)

    x = layers.Conv2D(32, 3, strides=2, use_bias=False, name=prefix + "block1_conv1")(x)
    x = act("block1_conv1_act")(bn("block1_conv1_bn")(x))
    x = layers.Conv2D(64, 3, use_bias=False, name=prefix + "block1_conv2")(x)
    x = act("block1_conv2_act")(bn("block1_conv2_bn")(x))

    taps = {}
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        residual = residual_conv(filters, x)
        if block > 2:
            x = act(f"block{block}_sepconv1_act")(x)
        x = bn(f"block{block}_sepconv1_bn")(sep(filters, f"block{block}_sepconv1")(x))
        x = act(f"block{block}_sepconv2_act")(x)
        x = bn(f"block{block}_sepconv2_bn")(sep(filters, f"block{block}_sepconv2")(x))
        if block == 4:
            taps["block4_sepconv2_bn"] = x
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}block{block}_pool")(x)
        x = layers.Add(name=numbered("add"))([x, residual])

    for block in range(5, 13):
        residual = x
        for k in (1, 2, 3):
            x = act(f"block{block}_sepconv{k}_act")(x)
            x = bn(f"block{block}_sepconv{k}_bn")(sep(728, f"block{block}_sepconv{k}")(x))
        x = layers.Add(name=numbered("add"))([x, residual])

    residual = residual_conv(1024, x)
    x = act("block13_sepconv1_act")(x)
    x = bn("block13_sepconv1_bn")(sep(728, "block13_sepconv1")(x))
    x = act("block13_sepconv2_act")(x)
    x = bn("block13_sepconv2_bn")(sep(1024, "block13_sepconv2")(x))
    taps["block13_sepconv2_bn"] = x
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=prefix + "block13_pool")(x)
    x = layers.Add(name=numbered("add"))([x, residual])

    x = act("block14_sepconv1_act")(bn("block14_sepconv1_bn")(sep(1536, "block14_sepconv1")(x)))
    x = act("block14_sepconv2_act")(bn("block14_sepconv2_bn")(sep(2048, "block14_sepconv2")(x)))
    taps["output"] = x
    return taps


# --------------------------------------------------------------------------------------------- CVR-Net
def _spatial_sizes(size: int) -> tuple[int, int]:
    """Final spatial size of (ResNet50, Xception) for an input side ``size``."""
    r = (size + 6 - 7) // 2 + 1          # conv1 7x7/2 valid after 3-pad
    r = (r + 2 - 3) // 2 + 1             # 3x3/2 max-pool after 1-pad
    for _ in range(3):                   # stages 3, 4, 5: 1x1 stride-2 valid conv
        r = (r - 1) // 2 + 1
    x = (size - 3) // 2 + 1              # block1_conv1 3x3/2 valid
    x = x - 2                            # block1_conv2 3x3 valid
    for _ in range(4):                   # blocks 2, 3, 4, 13: same-padded stride-2 pools
        x = -(-x // 2)
    return r, x


def build_cvrnet(
    num_classes: int = 2,
    input_shape: Sequence[int] = (224, 224, 3),
    resnet: str = "legacy",
    backbone_weights: str | Path | Sequence[str | Path] | None = None,
    input_scaling: str = "raw255",
    name: str = "cvrnet",
) -> keras.Model:
    """Build CVR-Net [CVR-T] (docs/PAPERS.md §2.1) as a Keras 3 functional model.

    Args:
        num_classes: number of classes (2, 3 or 4 in the paper's tasks).
        input_shape: ``(height, width, 3)``; 224x224 in the paper. Both backbones must end at the
            same spatial size for the concatenation (true for multiples of 32, from 96 up; Xception
            needs at least 71).
        resnet: ``"legacy"`` (Keras 2.3.1 / keras-applications 1.0.8 ResNet50, epsilon 1e-3, the
            authors' backbone) or ``"keras"`` (Keras 3 ResNet50, epsilon 1.001e-5). See module doc.
        backbone_weights: ``None`` (random), ``"imagenet"`` (legacy flavour: the keras-applications
            1.0.8 ResNet50 file; keras flavour: Keras 3's ResNet50 file; Xception: Keras' file, the
            same in both; downloaded by ``keras.utils.get_file``), or one or more local Keras-2 HDF5
            files holding backbone layers, matched by name with or without the ``res_``/``xce_``
            prefix. Heads always start random.
        input_scaling: ``"raw255"`` (authors' code), ``"imagenet"`` or ``"rescale01"`` (module doc).
        name: model name.

    Returns:
        A ``keras.Model`` from one image input (float, 0-255) to the averaged class probabilities.
        At 224x224: 48,602,610 parameters for 2 classes (107,648 non-trainable), 48,602,935 for 3,
        48,603,260 for 4 [CVR-T].
    """
    if resnet not in RESNET_FLAVOURS:
        raise CxrError(f"resnet must be one of {RESNET_FLAVOURS}, got {resnet!r}")
    if input_scaling not in INPUT_SCALINGS:
        raise CxrError(f"input_scaling must be one of {INPUT_SCALINGS}, got {input_scaling!r}")
    if int(num_classes) < 2:
        raise CxrError(f"num_classes must be at least 2, got {num_classes!r}")
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise CxrError(f"input_shape must be (height, width, 3), got {input_shape}")
    if min(input_shape[:2]) < 71:
        raise CxrError(f"input_shape {input_shape}: Xception needs height and width of at least 71")
    for side in input_shape[:2]:
        r, x = _spatial_sizes(side)
        if r != x:
            raise CxrError(
                f"input_shape {input_shape}: side {side} ends at {r}x{r} in ResNet50 but {x}x{x} in Xception, "
                "so branch 1 cannot concatenate them; use a multiple of 32 such as 224"
            )

    inputs = keras.Input(shape=input_shape, name="input_image")
    if input_scaling == "raw255":
        res_in = xce_in = inputs
    elif input_scaling == "rescale01":
        res_in = xce_in = layers.Rescaling(1.0 / 255.0, name="rescale01")(inputs)
    else:
        res_in = CaffePreprocess(name=RES_PREFIX + "preprocess_caffe")(inputs)
        xce_in = layers.Rescaling(1.0 / 127.5, offset=-1.0, name=XCE_PREFIX + "preprocess_tf")(inputs)

    res = _resnet50(res_in, resnet)
    xce = _xception(xce_in)

    taps = [
        layers.Concatenate(name="concatenate_1")([res["output"], xce["output"]]),
        res["stage4"],
        res["stage3"],
        xce["block4_sepconv2_bn"],
        xce["block13_sepconv2_bn"],
    ]
    pooled = [layers.GlobalAveragePooling2D(name=f"global_average_pooling2d_{k}")(t) for k, t in enumerate(taps, 1)]
    outputs = []
    for k, h in enumerate(pooled, start=1):
        h = layers.Dense(HEAD_UNITS[0], activation="relu", name=f"dense_{3 * k - 2}")(h)
        h = layers.Dense(HEAD_UNITS[1], activation="relu", name=f"dense_{3 * k - 1}")(h)
        h = layers.Dense(HEAD_UNITS[2], activation="relu", name=f"MKH_{k}")(h)
        outputs.append(layers.Dense(int(num_classes), activation="softmax", dtype="float32", name=f"dense_{3 * k}")(h))
    output = layers.Average(dtype="float32", name="average_1")(outputs)
    model = keras.Model(inputs, output, name=name)

    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights, resnet=resnet)
    return model
