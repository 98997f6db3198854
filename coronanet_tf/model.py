"""CORONA-Net in Keras 3: VGG16-BN encoder, bottleneck classifier and the authors' ``Decoder224``.

Architecture of the authors' PyTorch class ``vgg_ae`` [CR] (docs/PAPERS.md §3.1), two-phase idea from
the project page and the journal abstract [S0, PG], figure [VIP coronanet.jpg]:

=========  ===========================================================  =====================
stage      layers                                                       output (NHWC) @224
=========  ===========================================================  =====================
net_fet    torchvision ``vgg16_bn().features``: 13 x [Conv3x3 p1 -> BN   7 x 7 x 512
           (eps 1e-5) -> ReLU], 5 MaxPool 2x2 (torch indices 0..43)
nscnn      Conv2d(512 -> 100, 1x1), no BN, no activation                 7 x 7 x 100
flatten    channel-major (C, H, W) as torch ``view(N, -1)`` (see below)  4900
classifier Linear 4900-50, ReLU, 50-30, ReLU, 30-20, ReLU, 20-3         3 logits (float32)
dec        ``Decoder224``: logits -> (1, 3, 1) -> 12 x [ConvTranspose ->  224 x 224 x 3
           BN (eps 1e-3) -> tanh]
=========  ===========================================================  =====================

Keras layer names follow the torch module paths with ``.`` replaced by ``_`` (``net_fet_40``,
``nscnn_0``, ``classifier_6``, ``dec_upsample12``, ``dec_batchnorm12``), so a converted checkpoint
maps key by key (:mod:`coronanet_tf.convert`). Two float32 identity/activation layers name the
outputs: ``logits`` and ``reconstruction``.

Flatten order (choice): the model PERMUTES the 7x7x100 feature map to channel-major (C, H, W)
with ``Permute((3, 1, 2))`` before ``Flatten``, so the flat vector equals torch's
``conv.view(N, -1)`` element for element. Why this rather than permuting the rows of the first
Linear at conversion time: the Keras weights of ``classifier_0`` stay a plain transpose of the
torch weights (no hidden permutation tied to the 7x7 grid, easy to check by eye or to convert
back), and the permute costs nothing measurable (4,900 values per image).

Decoder (``Decoder224`` [CR], shapes traced in docs/PAPERS.md §3.1, NCHW -> NHWC):
torch ``x.view(-1, 1, 1, 3)`` is N, C=1, H=1, W=3, i.e. NHWC (1, 3, 1). PyTorch
``ConvTranspose2d(padding=p)`` equals a Keras ``'valid'`` ``Conv2DTranspose`` (output
``(in-1)*s + k``, every kernel here is at least its stride) followed by ``Cropping2D(p)``:

====  ====  ======  ======  ===  ============
 #    out   kernel  stride  pad  H x W
====  ====  ======  ======  ===  ============
 1     6    (2,1)   (1,1)   0    2 x 3
 2     8    (2,2)   (2,1)   0    4 x 4
 3    10    2       2       0    8 x 8
 4    14    3       1       0    10 x 10
 5    16    4       4       0    40 x 40
 6    18    3       3       0    120 x 120
 7    20    3       1       0    122 x 122
 8    22    3       2       0    245 x 245
 9    24    3       1       4    239 x 239
10    32    3       1       4    233 x 233
11     3    3       1       4    227 x 227
12     3    4       1       3    224 x 224
====  ====  ======  ======  ===  ============

The decoder is hard-wired to 3 logits (``view(-1, 1, 1, 3)``) and always outputs 224 x 224 x 3
whatever the input size; ``with_decoder=True`` therefore requires ``num_classes == 3``.

Parameter counts (docs/PAPERS.md §3.1, asserted in tests): classification path 15,021,699 trainable +
8,448 non-trainable (VGG BN moving mean/variance); with the used decoder 15,050,059 trainable +
8,800 non-trainable (+352 decoder BN moving statistics). The authors' UNUSED decoder modules
(``dec.conv1..3``, ``dec.fc``, ``dec.fc1``; 2,303,663 parameters) are not built.

Deviations from [CR]:
- BatchNormalization momentum: torch ``momentum=0.1`` (new-stat weight) is Keras ``momentum=0.9``
  (old-stat weight), same update. Torch updates ``running_var`` with the UNBIASED batch variance,
  Keras with the biased one (factor n/(n-1), n = batch x H x W; below 1e-4 relative for the VGG
  layers at batch 12). Inference (moving statistics) is identical.
- ``num_batches_tracked`` buffers have no Keras counterpart (unused with a fixed momentum).
- Mixed precision: the authors used apex AMP O2 [CR]; here the Keras policy applies, outputs stay
  float32 (``authors_code``: ``train.mixed_precision: mixed_float16_on_gpu``, i.e. mixed_float16
  with dynamic loss scaling on a GPU, float32 on a CPU; :mod:`cxr_core.training.precision`).

Initialisation of the layers the authors add on top of VGG16-BN (``nscnn_0``, ``classifier_0/2/4/6``,
``dec_upsample1..12``): ``head_init="torch_default"`` (both presets) is PyTorch's default
``reset_parameters`` that [CR] relies on (weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``,
torch's fan-in; :mod:`coronanet_tf.torch_init`); ``"glorot"`` is Keras' default (Glorot-uniform
kernels, zero biases). The VGG16-BN layers start from the ImageNet weights [CR] (Keras' defaults
only when ``backbone_weights`` is None).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import keras
from keras import layers

from coronanet_tf.layout import (
    BOTTLENECK_CHANNELS,
    CLASSIFIER_UNITS,
    DECODER224_LAYERS,
    VGG16_CFG,
)
from coronanet_tf.torch_weights import torchvision_vgg16_bn_arrays
from cxr_core.weights.transfer import copy_weights
from cxr_core.weights.load import load_keras_weights
from cxr_core.errors import CxrError

VGG_BN_EPSILON = 1e-5
DECODER_BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9  # torch momentum 0.1

#: ``head_init`` values: PyTorch's default initialisation [CR] or Keras' (Glorot, zero bias).
HEAD_INITS = ("torch_default", "glorot")


def _head_init(head_init: str, layout: str, kernel_shape: tuple[int, ...]) -> dict:
    """Initializer keyword arguments of an added layer (see ``head_init`` in :func:`build_coronanet`)."""
    if head_init == "glorot":
        return {}
    from coronanet_tf.torch_init import torch_default_initializers

    return torch_default_initializers(layout, kernel_shape)

#: file name of torchvision's ImageNet ``vgg16_bn`` weights (looked for by ``backbone_weights="imagenet"``).
TORCHVISION_VGG16_BN_FILE = "vgg16_bn-6c64b313.pth"


def vgg16_bn_layer_names() -> list[str]:
    """Keras names of the 44 ``net_fet`` layers, in torch index order (``net_fet_0`` .. ``net_fet_43``)."""
    return [f"net_fet_{i}" for i in range(44)]


def _vgg16_bn_features(x):
    """torchvision ``vgg16_bn().features`` [CR]: conv/BN/ReLU triples and max-pools, torch indices."""
    index = 0
    for v in VGG16_CFG:
        if v == "M":
            x = layers.MaxPooling2D(2, strides=2, name=f"net_fet_{index}")(x)
            index += 1
            continue
        x = layers.Conv2D(v, 3, padding="same", name=f"net_fet_{index}")(x)
        x = layers.BatchNormalization(epsilon=VGG_BN_EPSILON, momentum=BN_MOMENTUM, name=f"net_fet_{index + 1}")(x)
        x = layers.ReLU(name=f"net_fet_{index + 2}")(x)
        index += 3
    return x


def _decoder224(logits, head_init: str = "torch_default"):
    """The authors' ``Decoder224`` [CR]: 12 x [ConvTranspose2d -> BN(eps 1e-3) -> tanh]."""
    x = layers.Reshape((1, 3, 1), name="dec_view")(logits)  # torch view(-1, 1, 1, 3): C=1, H=1, W=3
    last = len(DECODER224_LAYERS)
    in_channels = 1
    for i, (filters, kernel, stride, pad) in enumerate(DECODER224_LAYERS, start=1):
        init = _head_init(head_init, "conv2d_transpose", (*kernel, filters, in_channels))
        in_channels = filters
        x = layers.Conv2DTranspose(filters, kernel, strides=stride, padding="valid", name=f"dec_upsample{i}",
                                   **init)(x)
        if pad:
            x = layers.Cropping2D(pad, name=f"dec_crop{i}")(x)
        x = layers.BatchNormalization(
            epsilon=DECODER_BN_EPSILON, momentum=BN_MOMENTUM, name=f"dec_batchnorm{i}"
        )(x)
        if i == last:
            x = layers.Activation("tanh", dtype="float32", name="reconstruction")(x)
        else:
            x = layers.Activation("tanh", name=f"dec_tanh{i}")(x)
    return x


def build_vgg16_bn_backbone(input_shape: Sequence[int | None] = (None, None, 3), name: str = "vgg16_bn_features") -> keras.Model:
    """The VGG16-BN feature extractor alone (layers ``net_fet_0`` .. ``net_fet_43``).

    This is the model whose ``.weights.h5`` :func:`coronanet_tf.convert.convert_torchvision_vgg16_bn`
    writes and ``build_coronanet(backbone_weights=...)`` reads. Weights do not depend on the input size.
    """
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    return keras.Model(inputs, _vgg16_bn_features(inputs), name=name)


def build_coronanet(
    num_classes: int = 3,
    input_shape: Sequence[int] = (224, 224, 3),
    with_decoder: bool = True,
    backbone_weights: str | os.PathLike | None = None,
    name: str = "coronanet",
    head_init: str = "torch_default",
) -> keras.Model:
    """Build CORONA-Net (``vgg_ae`` of [CR]) as a Keras functional model.

    Args:
        num_classes: number of logits (3 in [CR]; the decoder needs exactly 3).
        input_shape: (H, W, 3). The 1x1-conv/flatten/Linear(4900) path needs a 7x7 map, i.e.
            H and W in 224..255 (the authors' 224).
        with_decoder: add ``Decoder224`` and return ``[logits, reconstruction]``; without it the
            model returns the logits only (the paper's phase 2, "decoder removed" [S0, PG]).
        backbone_weights: ``None`` (random init), a path to a converted VGG16-BN ``.weights.h5``
            (from :func:`coronanet_tf.convert.convert_torchvision_vgg16_bn`), a torchvision
            ``vgg16_bn`` state-dict file (``.pth``; needs PyTorch), or ``"imagenet"``: torchvision's
            ``vgg16_bn-6c64b313.pth`` found at ``$COVID_CXR_VGG16_BN_WEIGHTS`` or in the torch hub
            cache (never downloaded). The authors start from these ImageNet weights [CR].
            Full CORONA-Net weights (ours or the authors' ``.pth.tar``) go into the built model with
            :func:`coronanet_tf.weights.load_weights`.
        name: model name.
        head_init: initialisation of the layers added on top of VGG16-BN (``nscnn_0``, the four
            ``classifier`` Dense layers, the twelve ``dec_upsample`` layers): ``"torch_default"``
            (default, both presets) = PyTorch's default that [CR] relies on, weights and biases
            ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with torch's fan-in
            (:mod:`coronanet_tf.torch_init`; e.g. ``classifier_0``: 1/sqrt(4900) = 0.0143);
            ``"glorot"`` = Keras' default (Glorot-uniform kernels, zero biases).

    Returns:
        A ``keras.Model`` with outputs ``[logits (N, num_classes), reconstruction (N, 224, 224, 3)]``
        (``with_decoder=True``) or ``logits`` alone; both float32 under any dtype policy.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise CxrError(f"CORONA-Net input_shape must be (H, W, 3); found {input_shape}")
    for side in input_shape[:2]:
        if side is None or not 224 <= int(side) < 256:
            raise CxrError(
                "CORONA-Net's Linear(4900 -> 50) needs a 7x7x100 bottleneck, i.e. input H and W in "
                f"224..255 (the authors use 224) [CR]; found input_shape={input_shape}"
            )
    if with_decoder and num_classes != 3:
        raise CxrError(
            "Decoder224 reshapes the logits with view(-1, 1, 1, 3) [CR], so with_decoder=True needs "
            f"num_classes=3; found num_classes={num_classes} (use with_decoder=False)"
        )
    if head_init not in HEAD_INITS:
        raise CxrError(f"CORONA-Net head_init (model.options.head_init) must be one of {list(HEAD_INITS)}; "
                         f"found {head_init!r}")
    inputs = keras.Input(shape=input_shape, name="image")
    x = _vgg16_bn_features(inputs)
    x = layers.Conv2D(BOTTLENECK_CHANNELS, 1, padding="valid", name="nscnn_0",
                      **_head_init(head_init, "conv2d", (1, 1, int(x.shape[-1]), BOTTLENECK_CHANNELS)))(x)
    x = layers.Permute((3, 1, 2), name="to_channel_major")(x)  # (C, H, W) like torch view(N, -1)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate((*CLASSIFIER_UNITS, num_classes)):
        init = _head_init(head_init, "dense", (int(x.shape[-1]), units))
        x = layers.Dense(units, name=f"classifier_{2 * i}", **init)(x)
        if i < len(CLASSIFIER_UNITS):
            x = layers.ReLU(name=f"classifier_{2 * i + 1}")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    outputs = [logits, _decoder224(logits, head_init)] if with_decoder else logits
    model = keras.Model(inputs, outputs, name=name)
    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights)
    return model


def _resolve_imagenet_backbone() -> Path:
    candidates = []
    env = os.environ.get("COVID_CXR_VGG16_BN_WEIGHTS")
    if env:
        candidates.append(Path(env))
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    candidates.append(torch_home / "hub" / "checkpoints" / TORCHVISION_VGG16_BN_FILE)
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "backbone_weights='imagenet' needs torchvision's ImageNet vgg16_bn weights "
        f"({TORCHVISION_VGG16_BN_FILE}, https://download.pytorch.org/models/{TORCHVISION_VGG16_BN_FILE}); "
        f"nothing is downloaded at run time. Looked in: {', '.join(str(p) for p in candidates)}. "
        "Download it, then set $COVID_CXR_VGG16_BN_WEIGHTS or pass its path (or a file converted with "
        "coronanet_tf.convert_torchvision_vgg16_bn)"
    )


def is_torch_file(path: Path) -> bool:
    """Whether ``path`` is named like a PyTorch file (``.pth``, ``.pt``, ``.pth.tar``, ``.tar``, ``.bin``)."""
    return path.name.endswith((".pth", ".pt", ".pth.tar", ".tar", ".bin"))


def load_backbone_weights(model: keras.Model, backbone_weights: str | os.PathLike) -> keras.Model:
    """Set the ``net_fet_*`` layers of ``model`` from VGG16-BN weights (see :func:`build_coronanet`)."""
    path = _resolve_imagenet_backbone() if str(backbone_weights) == "imagenet" else Path(backbone_weights)
    if not path.is_file():
        raise FileNotFoundError(f"backbone_weights file not found: {path}")
    if is_torch_file(path):
        source, _ = torchvision_vgg16_bn_arrays(path)
    else:
        source = load_keras_weights(build_vgg16_bn_backbone(), path)
    copy_weights(model, source, source_name=str(path), allow=("not_in_source",))
    return model
