"""PyTorch state dicts -> Keras arrays by layer name, for CORONA-Net and its VGG16-BN backbone.

Two sources:

- the authors' ``covid.pth.tar`` [CR] (docs/PAPERS.md §3.6): ``torch.save`` of a dict
  ``{'epoch', 'arch', 'state_dict', 'best_prec1', 'optimizer'}``, ``state_dict`` from
  ``model.module.state_dict()`` of ``vgg_ae``; keys ``net_fet.N.*``, ``nscnn.0.*``,
  ``classifier.{0,2,4,6}.*``, ``dec.upsample1..12.*``, ``dec.batchnorm1..12.*`` and the UNUSED
  ``dec.conv1..3.*``, ``dec.fc.weight``, ``dec.fc1.weight`` (ignored and reported). A bare state
  dict and a ``module.`` prefix (DataParallel/DDP) are accepted; fp16 tensors (apex AMP O2 [CR])
  are cast to float32 and reported.
- torchvision's ImageNet ``vgg16_bn`` state dict (``features.N.*``; ``classifier.*`` ignored), the
  authors' initialisation (``vgg16_bn(pretrained=True)`` [CR]).

Layout changes: Conv2d ``(out, in, kh, kw)`` -> Keras ``(kh, kw, in, out)``; ConvTranspose2d
``(in, out, kh, kw)`` -> Keras Conv2DTranspose ``(kh, kw, out, in)`` (same axis permutation, no
kernel flip: both frameworks define the transposed convolution as the gradient of the same
cross-correlation); Linear ``(out, in)`` -> Dense ``(in, out)``, rows NOT permuted because the
Keras model flattens channel-major (see :mod:`coronanet_tf.model`); BatchNorm
``weight, bias, running_mean, running_var`` -> ``gamma, beta, moving_mean, moving_variance``;
``num_batches_tracked`` is ignored.

PyTorch is an optional dependency (``pip install covid-cxr-tf[torch]``) imported only when a
``.pth`` file is read. Files are read with ``torch.load(..., weights_only=True)`` (no pickle code
execution).

Everything here works in memory and needs only the architecture tables (:mod:`coronanet_tf.layout`);
writing ``.weights.h5`` files is :mod:`coronanet_tf.convert`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cxr_core.weights.files import MissingWeightError, WeightFileError
from coronanet_tf.layout import (
    BOTTLENECK_CHANNELS,
    CLASSIFIER_UNITS,
    DECODER224_LAYERS,
    VGG16_BN_CONV_INDICES,
    VGG16_CFG,
)

TORCH_HINT = "PyTorch is needed to read .pth files: pip install covid-cxr-tf[torch]  (or: pip install torch)"

#: modules of ``Decoder224`` defined but never called in ``forward`` [CR] (docs/PAPERS.md §3.1).
UNUSED_DECODER_PREFIXES = ("dec.conv1.", "dec.conv2.", "dec.conv3.", "dec.fc.", "dec.fc1.")

_BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")


def import_torch():
    """``import torch`` with an error that says how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(TORCH_HINT) from exc
    return torch


@dataclass(frozen=True)
class ConversionReport:
    """What a conversion did.

    Attributes:
        source: the file read.
        destination: the Keras ``.weights.h5`` written (``None`` for in-memory conversions).
        converted: torch keys copied into Keras weights.
        ignored: torch key -> reason (unused decoder modules, ``num_batches_tracked``, torchvision's
            ``classifier.*``).
        missing: expected keys that were absent and tolerated (only the decoder, when the
            checkpoint has none; any other missing key is an error).
        dtype_casts: torch key -> ``"float16->float32"`` etc.
        num_classes: classes of the converted classifier (``None`` for a backbone).
        with_decoder: whether the decoder weights were converted.
    """

    source: str
    destination: str | None
    converted: tuple[str, ...]
    ignored: Mapping[str, str]
    missing: tuple[str, ...] = ()
    dtype_casts: Mapping[str, str] = field(default_factory=dict)
    num_classes: int | None = None
    with_decoder: bool = False

    def summary(self) -> str:
        """A few lines for logs."""
        lines = [
            f"{self.source} -> {self.destination or '(memory)'}: {len(self.converted)} tensors converted, "
            f"{len(self.ignored)} ignored, {len(self.missing)} missing, {len(self.dtype_casts)} cast to float32"
        ]
        groups: dict[str, list[str]] = {}
        for key, reason in self.ignored.items():
            groups.setdefault(reason, []).append(key)
        for reason, keys in groups.items():
            lines.append(f"  ignored ({reason}): {', '.join(keys)}")
        if self.missing:
            lines.append(f"  missing (tolerated): {', '.join(self.missing)}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------- reading
def numpy_metadata_globals() -> list:
    """The NumPy names a checkpoint's metadata may use under ``torch.load(weights_only=True)``.

    Training scripts store values such as ``best_prec1`` as NumPy scalars (``np.float64``), which
    pickle as ``numpy.core.multiarray.scalar`` (NumPy 1) / ``numpy._core.multiarray.scalar`` (NumPy 2)
    plus ``numpy.dtype`` and its per-type classes; others store NumPy arrays, 0-d ones too
    (``best_prec1 = np.array(0.93)``), which pickle as ``multiarray._reconstruct(numpy.ndarray, ...)``
    and the array's bytes. Only these are allowed: they rebuild numbers from their bytes and call no
    other code; an array of Python objects (dtype ``object``) is refused after loading
    (:func:`_refuse_object_arrays`). Other classes and functions stay refused.
    """
    multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
    scalar, rebuild = multiarray.scalar, multiarray._reconstruct
    allowed: list = [scalar, (scalar, "numpy.core.multiarray.scalar"), (scalar, "numpy._core.multiarray.scalar"),
                     np.dtype, np.ndarray, (rebuild, "numpy.core.multiarray._reconstruct"),
                     (rebuild, "numpy._core.multiarray._reconstruct")]
    for kind in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
                 np.float16, np.float32, np.float64, np.complex64, np.complex128):
        allowed.append(type(np.dtype(kind)))
    return allowed


def _load_refusal(exc: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line."""
    import re

    text = str(exc)
    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return (f"refused: the file holds a pickled Python object ({found.group(1)}), for instance a whole "
                "model saved with torch.save(model); only tensors and plain metadata are read "
                "(torch.load(weights_only=True), which runs no code from the file). Save and convert "
                "model.state_dict() instead")
    return f"could not be read with torch.load(weights_only=True): {text.splitlines()[0] if text else exc!r}"




def _refuse_object_arrays(obj: Any, src: Path) -> None:
    """Raise ``ValueError`` for a NumPy array of Python objects anywhere in the loaded metadata."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray) and item.dtype.hasobject:
            raise ValueError(f"{src}: the checkpoint's metadata holds a NumPy array of Python objects; "
                             "only numeric arrays are read")
        if isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def read_torch_state_dict(src: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a PyTorch state dict as float32/integer numpy arrays.

    Accepts a checkpoint dict holding ``state_dict`` (the authors' ``covid.pth.tar`` [CR]) or a bare
    state dict; strips a ``module.`` prefix. Returns ``(arrays, dtype_casts)`` where floating tensors
    that were not float32 (fp16 under apex AMP O2, bf16, fp64) are cast to float32 and listed.
    """
    torch = import_torch()
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"PyTorch checkpoint not found: {src}")
    try:
        with torch.serialization.safe_globals(numpy_metadata_globals()):
            obj = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightFileError(f"{src}: {_load_refusal(exc)}") from exc
    _refuse_object_arrays(obj, src)
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        state = obj["state_dict"]
    elif isinstance(obj, Mapping):
        state = obj
    else:
        raise WeightFileError(f"{src}: expected a state dict or a dict with 'state_dict', found {type(obj).__name__}")
    arrays: dict[str, np.ndarray] = {}
    casts: dict[str, str] = {}
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise WeightFileError(
                f"{src}: state dict entry {key!r} is {type(value).__name__}, expected a tensor "
                f"(top-level keys: {sorted(map(str, obj))[:10]})"
            )
        key = key[len("module."):] if key.startswith("module.") else key
        tensor = value.detach().cpu()
        if tensor.is_floating_point() and tensor.dtype != torch.float32:
            casts[key] = f"{str(tensor.dtype).replace('torch.', '')}->float32"
            tensor = tensor.float()
        arrays[key] = tensor.numpy().copy()
    if not arrays:
        raise WeightFileError(f"{src}: the state dict is empty")
    return arrays, casts


# --------------------------------------------------------------------------------------------- key maps


@dataclass(frozen=True)
class _Entry:
    torch_prefix: str
    keras_layer: str
    kind: str  # conv | convT | dense | bn
    shapes: tuple[tuple[int, ...], ...]  # expected torch shapes of the parameters, Keras order


def _vgg_entries(torch_group: str) -> list[_Entry]:
    entries = []
    in_ch, index = 3, 0
    for v in VGG16_CFG:
        if v == "M":
            index += 1
            continue
        entries.append(_Entry(f"{torch_group}.{index}", f"net_fet_{index}", "conv", ((v, in_ch, 3, 3), (v,))))
        entries.append(_Entry(f"{torch_group}.{index + 1}", f"net_fet_{index + 1}", "bn", ((v,),) * 4))
        in_ch, index = v, index + 3
    assert tuple(int(e.keras_layer.split("_")[-1]) for e in entries if e.kind == "conv") == VGG16_BN_CONV_INDICES
    return entries


def _head_entries(num_classes: int) -> list[_Entry]:
    entries = [_Entry("nscnn.0", "nscnn_0", "conv", ((BOTTLENECK_CHANNELS, 512, 1, 1), (BOTTLENECK_CHANNELS,)))]
    widths = (BOTTLENECK_CHANNELS * 7 * 7, *CLASSIFIER_UNITS, num_classes)
    for i in range(len(widths) - 1):
        out, inp = widths[i + 1], widths[i]
        entries.append(_Entry(f"classifier.{2 * i}", f"classifier_{2 * i}", "dense", ((out, inp), (out,))))
    return entries


def _decoder_entries() -> list[_Entry]:
    entries = []
    in_ch = 1
    for i, (out, kernel, _stride, _pad) in enumerate(DECODER224_LAYERS, start=1):
        entries.append(_Entry(f"dec.upsample{i}", f"dec_upsample{i}", "convT", ((in_ch, out, *kernel), (out,))))
        entries.append(_Entry(f"dec.batchnorm{i}", f"dec_batchnorm{i}", "bn", ((out,),) * 4))
        in_ch = out
    return entries


def _param_keys(entry: _Entry) -> list[str]:
    names = _BN_SUFFIXES if entry.kind == "bn" else ("weight", "bias")
    return [f"{entry.torch_prefix}.{n}" for n in names]


def _to_keras(kind: str, index: int, array: np.ndarray) -> np.ndarray:
    if index == 0 and kind in ("conv", "convT"):
        return np.ascontiguousarray(array.transpose(2, 3, 1, 0))
    if index == 0 and kind == "dense":
        return np.ascontiguousarray(array.T)
    return array


def _convert_entries(
    state: Mapping[str, np.ndarray], entries: list[_Entry], source: str, *, optional: set[str] = frozenset()
) -> tuple[dict[str, list[np.ndarray]], list[str], list[str]]:
    """Copy ``entries`` out of ``state``; returns (arrays by Keras layer, converted keys, missing keys).

    A key of an entry whose prefix is in ``optional`` may be absent (reported as missing); any other
    absent key or any shape mismatch raises, naming the key, the expected and the found shape.
    """
    arrays: dict[str, list[np.ndarray]] = {}
    converted: list[str] = []
    missing: list[str] = []
    for entry in entries:
        keys = _param_keys(entry)
        absent = [k for k in keys if k not in state]
        if absent:
            if entry.torch_prefix in optional:
                missing.extend(absent)
                continue
            raise MissingWeightError(
                f"{source}: missing key {absent[0]!r} (expected shape {entry.shapes[keys.index(absent[0])]}) "
                f"for Keras layer {entry.keras_layer!r}"
            )
        values = []
        for i, (key, shape) in enumerate(zip(keys, entry.shapes)):
            found = tuple(state[key].shape)
            if found != tuple(shape):
                raise WeightFileError(
                    f"{source}: key {key!r} has shape {found}, expected {tuple(shape)} "
                    f"(Keras layer {entry.keras_layer!r})"
                )
            values.append(_to_keras(entry.kind, i, np.asarray(state[key], dtype=np.float32)))
        arrays[entry.keras_layer] = values
        converted.extend(keys)
    return arrays, converted, missing


def _as_state(src: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    """(arrays, dtype casts, source name) from a file or an in-memory state dict (tensors or arrays)."""
    if not isinstance(src, Mapping):
        state, casts = read_torch_state_dict(src)
        return state, casts, str(src)
    state: dict[str, np.ndarray] = {}
    casts: dict[str, str] = {}
    for key, value in src.items():
        key = key[len("module."):] if key.startswith("module.") else key
        array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
        if array.dtype.kind == "f" and array.dtype != np.float32:
            casts[key] = f"{array.dtype}->float32"
            array = array.astype(np.float32)
        state[key] = array
    return state, casts, "<state dict>"


# --------------------------------------------------------------------------------------------- CORONA-Net


def coronanet_arrays_from_torch(
    src: str | os.PathLike | Mapping[str, Any],
    num_classes: int | None = None,
    with_decoder: bool | None = None,
) -> tuple[dict[str, list[np.ndarray]], ConversionReport]:
    """Convert the authors' ``vgg_ae`` state dict [CR] to Keras arrays by layer name (in memory).

    Args:
        src: ``covid.pth.tar``, a bare state-dict file, or an in-memory state dict.
        num_classes: expected classes; ``None`` reads them from ``classifier.6.weight``.
        with_decoder: convert ``dec.upsample*`` / ``dec.batchnorm*``; ``None`` = when the checkpoint
            has them and ``num_classes == 3``. With ``True`` a missing decoder key is an error.

    Returns:
        ``(arrays, report)``: Keras layer name -> weights in ``layer.get_weights()`` order.

    Raises:
        KeyError / ValueError naming the key, the expected shape and the found shape; unexpected keys
        (not part of ``vgg_ae``) are an error too.
    """
    state, casts, source = _as_state(src)
    last = f"classifier.{2 * len(CLASSIFIER_UNITS)}.weight"
    if last not in state:
        raise MissingWeightError(f"{source}: missing key {last!r} (the last classifier Linear); keys start {sorted(state)[:8]}")
    found_classes = int(state[last].shape[0])
    if num_classes is None:
        num_classes = found_classes
    elif found_classes != num_classes:
        raise WeightFileError(
            f"{source}: key {last!r} has shape {tuple(state[last].shape)}, expected "
            f"({num_classes}, {CLASSIFIER_UNITS[-1]}) for num_classes={num_classes}"
        )
    has_decoder_keys = any(k.startswith(("dec.upsample", "dec.batchnorm")) for k in state)
    if with_decoder is None:
        with_decoder = has_decoder_keys and num_classes == 3
    if with_decoder and num_classes != 3:
        raise WeightFileError(f"{source}: Decoder224 needs num_classes=3 [CR]; found num_classes={num_classes}")

    entries = _vgg_entries("net_fet") + _head_entries(num_classes)
    dec_entries = _decoder_entries()
    if with_decoder:
        entries += dec_entries
    arrays, converted, _ = _convert_entries(state, entries, source)
    missing = [] if with_decoder else [k for e in dec_entries for k in _param_keys(e) if k not in state]

    ignored: dict[str, str] = {}
    known = set(converted)
    dec_keys = {k for e in dec_entries for k in _param_keys(e)}
    for key in state:
        if key in known:
            continue
        if key.endswith(".num_batches_tracked"):
            ignored[key] = "BatchNorm step counter, no Keras counterpart"
        elif key.startswith(UNUSED_DECODER_PREFIXES):
            ignored[key] = "Decoder224 module defined but never called in forward [CR]"
        elif key in dec_keys:
            ignored[key] = "decoder not converted (with_decoder=False)"
        else:
            unexpected = sorted(k for k in state if k not in known and k not in ignored and not k.endswith(".num_batches_tracked")
                                and not k.startswith(UNUSED_DECODER_PREFIXES) and k not in dec_keys)
            raise MissingWeightError(
                f"{source}: unexpected key(s) for CORONA-Net vgg_ae [CR]: {unexpected[:10]}"
                + (f" and {len(unexpected) - 10} more" if len(unexpected) > 10 else "")
            )
    report = ConversionReport(
        source=source,
        destination=None,
        converted=tuple(converted),
        ignored=ignored,
        missing=tuple(missing),
        dtype_casts={k: v for k, v in casts.items() if k in known},
        num_classes=num_classes,
        with_decoder=bool(with_decoder),
    )
    return arrays, report


# --------------------------------------------------------------------------------------------- torchvision


def torchvision_vgg16_bn_arrays(
    src: str | os.PathLike | Mapping[str, Any],
) -> tuple[dict[str, list[np.ndarray]], ConversionReport]:
    """Convert a torchvision ``vgg16_bn`` state dict (``features.N.*``) to ``net_fet_N`` arrays.

    ``classifier.*`` (the ImageNet head) is ignored. A CORONA-Net checkpoint (``net_fet.N.*``) is
    accepted too, so its encoder can seed a new model; its other keys are then ignored.
    """
    state, casts, source = _as_state(src)
    group = "features" if any(k.startswith("features.") for k in state) else "net_fet"
    entries = _vgg_entries(group)
    arrays, converted, _ = _convert_entries(state, entries, source)
    known = set(converted)
    ignored = {}
    for key in state:
        if key in known:
            continue
        if key.endswith(".num_batches_tracked"):
            ignored[key] = "BatchNorm step counter, no Keras counterpart"
        elif not key.startswith(f"{group}."):
            ignored[key] = "not part of the VGG16-BN features"
        else:
            raise MissingWeightError(f"{source}: unexpected key {key!r} for torchvision vgg16_bn features")
    report = ConversionReport(
        source=source,
        destination=None,
        converted=tuple(converted),
        ignored=ignored,
        dtype_casts={k: v for k, v in casts.items() if k in known},
    )
    return arrays, report
