"""CORONA-Net in Keras 3: VGG16-BN encoder, bottleneck classifier and the authors' ``Decoder224``.

Architecture of the authors' PyTorch class ``vgg_ae`` [CR] (PAPERS.md §3.1), two-phase idea from
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

Decoder (``Decoder224`` [CR], shapes traced in PAPERS.md §3.1, NCHW -> NHWC):
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

Parameter counts (PAPERS.md §3.1, asserted in tests): classification path 15,021,699 trainable +
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
  float32.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import keras
from keras import layers

#: torchvision ``vgg16_bn`` feature configuration ("M" = max-pool) [CR] (torchvision cfg "D").
VGG16_CFG: tuple = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")

#: torch indices of the 13 convolutions in ``net_fet`` (BN at +1, ReLU at +2).
VGG16_BN_CONV_INDICES: tuple[int, ...] = (0, 3, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40)

#: (out_channels, kernel, stride, padding) of ``Decoder224.upsample1..12`` [CR].
DECODER224_LAYERS: tuple[tuple[int, tuple[int, int], tuple[int, int], int], ...] = (
    (6, (2, 1), (1, 1), 0),
    (8, (2, 2), (2, 1), 0),
    (10, (2, 2), (2, 2), 0),
    (14, (3, 3), (1, 1), 0),
    (16, (4, 4), (4, 4), 0),
    (18, (3, 3), (3, 3), 0),
    (20, (3, 3), (1, 1), 0),
    (22, (3, 3), (2, 2), 0),
    (24, (3, 3), (1, 1), 4),
    (32, (3, 3), (1, 1), 4),
    (3, (3, 3), (1, 1), 4),
    (3, (4, 4), (1, 1), 3),
)

#: hidden widths of the bottleneck MLP (torch ``classifier.0/2/4``) [CR].
CLASSIFIER_UNITS: tuple[int, ...] = (50, 30, 20)

BOTTLENECK_CHANNELS = 100
VGG_BN_EPSILON = 1e-5
DECODER_BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9  # torch momentum 0.1

#: layer whose output Grad-CAM uses: ReLU of the 13th (last) VGG convolution, 14x14x512 @224
#: (Keras VGG16's ``block5_conv3``; the following max-pool is ``net_fet_43``).
LAST_CONV_LAYER = "net_fet_42"

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


def _decoder224(logits):
    """The authors' ``Decoder224`` [CR]: 12 x [ConvTranspose2d -> BN(eps 1e-3) -> tanh]."""
    x = layers.Reshape((1, 3, 1), name="dec_view")(logits)  # torch view(-1, 1, 1, 3): C=1, H=1, W=3
    last = len(DECODER224_LAYERS)
    for i, (filters, kernel, stride, pad) in enumerate(DECODER224_LAYERS, start=1):
        x = layers.Conv2DTranspose(filters, kernel, strides=stride, padding="valid", name=f"dec_upsample{i}")(x)
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
    weights: str | os.PathLike | None = None,
    name: str = "coronanet",
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
        weights: optional full CORONA-Net weights (``.weights.h5`` from
            :func:`coronanet_tf.convert.convert_torch_checkpoint`, or the authors' ``.pth.tar``),
            loaded with :func:`load_coronanet_weights` after ``backbone_weights``.
        name: model name.

    Returns:
        A ``keras.Model`` with outputs ``[logits (N, num_classes), reconstruction (N, 224, 224, 3)]``
        (``with_decoder=True``) or ``logits`` alone; both float32 under any dtype policy.
    """
    input_shape = tuple(input_shape)
    if len(input_shape) != 3 or input_shape[-1] != 3:
        raise ValueError(f"CORONA-Net input_shape must be (H, W, 3); found {input_shape}")
    for side in input_shape[:2]:
        if side is None or not 224 <= int(side) < 256:
            raise ValueError(
                "CORONA-Net's Linear(4900 -> 50) needs a 7x7x100 bottleneck, i.e. input H and W in "
                f"224..255 (the authors use 224) [CR]; found input_shape={input_shape}"
            )
    if with_decoder and num_classes != 3:
        raise ValueError(
            "Decoder224 reshapes the logits with view(-1, 1, 1, 3) [CR], so with_decoder=True needs "
            f"num_classes=3; found num_classes={num_classes} (use with_decoder=False)"
        )
    inputs = keras.Input(shape=input_shape, name="image")
    x = _vgg16_bn_features(inputs)
    x = layers.Conv2D(BOTTLENECK_CHANNELS, 1, padding="valid", name="nscnn_0")(x)
    x = layers.Permute((3, 1, 2), name="to_channel_major")(x)  # (C, H, W) like torch view(N, -1)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(CLASSIFIER_UNITS):
        x = layers.Dense(units, name=f"classifier_{2 * i}")(x)
        x = layers.ReLU(name=f"classifier_{2 * i + 1}")(x)
    x = layers.Dense(num_classes, name=f"classifier_{2 * len(CLASSIFIER_UNITS)}")(x)
    logits = layers.Activation("linear", dtype="float32", name="logits")(x)
    outputs = [logits, _decoder224(logits)] if with_decoder else logits
    model = keras.Model(inputs, outputs, name=name)
    if backbone_weights is not None:
        load_backbone_weights(model, backbone_weights)
    if weights is not None:
        load_coronanet_weights(model, weights)
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


def _is_torch_file(path: Path) -> bool:
    return path.name.endswith((".pth", ".pt", ".pth.tar", ".tar", ".bin"))


def _assign_by_name(model: keras.Model, arrays: dict[str, list], source: str) -> None:
    """Set the layers named in ``arrays``; every one must exist in ``model`` with the same shapes."""
    from cxr_core.legacy import assign_weights

    ours = {layer.name: layer for layer in model.layers if layer.weights}
    unknown = [name for name in arrays if name not in ours]
    if unknown:
        raise ValueError(f"{source}: layer {unknown[0]!r} is not in model {model.name!r}")
    assign_weights({name: ours[name] for name in arrays}, arrays, source=source)


def load_backbone_weights(model: keras.Model, backbone_weights: str | os.PathLike) -> keras.Model:
    """Set the ``net_fet_*`` layers of ``model`` from VGG16-BN weights (see :func:`build_coronanet`)."""
    path = _resolve_imagenet_backbone() if str(backbone_weights) == "imagenet" else Path(backbone_weights)
    if not path.is_file():
        raise FileNotFoundError(f"backbone_weights file not found: {path}")
    if _is_torch_file(path):
        from coronanet_tf.convert import torchvision_vgg16_bn_arrays

        arrays, _ = torchvision_vgg16_bn_arrays(path)
    else:
        donor = build_vgg16_bn_backbone()
        try:
            donor.load_weights(path)
        except Exception as exc:  # Keras' messages do not name the file
            raise ValueError(f"{path}: not a VGG16-BN backbone weights file written by convert_torchvision_vgg16_bn: {exc}") from exc
        arrays = {layer.name: layer.get_weights() for layer in donor.layers if layer.weights}
    _assign_by_name(model, arrays, str(path))
    return model


def load_coronanet_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load full CORONA-Net weights into ``model`` (with or without the decoder); returns ``model``.

    ``path`` is a ``.weights.h5`` written by :func:`coronanet_tf.convert.convert_torch_checkpoint`
    (always saved with the decoder) or a PyTorch checkpoint (``covid.pth.tar`` or a bare state
    dict; converted in memory, needs PyTorch). Layers are matched by name, so a file with the decoder
    loads into a model without it. Errors name the file, the layer, the expected and found shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"CORONA-Net weights file not found: {path}")
    has_decoder = any(layer.name == "reconstruction" for layer in model.layers)
    num_classes = int(model.get_layer("logits").output.shape[-1])
    if _is_torch_file(path):
        from coronanet_tf.convert import coronanet_arrays_from_torch

        arrays, _ = coronanet_arrays_from_torch(path, num_classes=num_classes, with_decoder=has_decoder)
    else:
        errors = []
        for donor_decoder in ((True, False) if num_classes == 3 else (False,)):
            donor = build_coronanet(num_classes=num_classes, with_decoder=donor_decoder)
            try:
                with warnings.catch_warnings():  # a failed attempt warns about every skipped layer
                    warnings.simplefilter("ignore", UserWarning)
                    donor.load_weights(path)
                break
            except Exception as exc:  # Keras' messages do not name the file
                errors.append(f"with_decoder={donor_decoder}: {exc}")
        else:
            raise ValueError(
                f"{path}: not a CORONA-Net weights file for num_classes={num_classes} "
                f"(written by convert_torch_checkpoint or save_weights of build_coronanet): {'; '.join(errors)}"
            )
        if has_decoder and not donor_decoder:
            raise ValueError(f"{path}: holds no decoder weights, but model {model.name!r} has the decoder")
        arrays = {layer.name: layer.get_weights() for layer in donor.layers if layer.weights}
        if not has_decoder:
            arrays = {k: v for k, v in arrays.items() if not k.startswith("dec_")}
    _assign_by_name(model, arrays, str(path))
    return model
