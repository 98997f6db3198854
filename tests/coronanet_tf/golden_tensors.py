"""Golden tensors (timm style) for CORONA-Net's PyTorch -> Keras conversion, without PyTorch.

``golden/convert_vgg_ae.npz`` holds what the PyTorch reference (coronanet_tf.torch_reference, the authors'
``vgg_ae`` layout [CR]) computed once, in eval mode, for a state dict whose every tensor is drawn from a
seeded NumPy generator (:func:`seeded_state_dict`) and for a seeded input batch (:func:`seeded_inputs`):

- ``keys`` / ``shapes``: the state dict's keys and PyTorch shapes, in ``state_dict()`` order (so the
  state dict can be drawn again here with no PyTorch at all);
- ``weights_seed``, ``inputs_seed``, ``torch_version``;
- ``logits`` ``[2, 3]`` float32 and :func:`reconstruction_sample` of the ``[2, 224, 224, 3]``
  reconstruction (NHWC): every 7th pixel plus the three first and last rows, where the transposed
  convolutions' padding crops act (55 KB compressed in all, instead of 1.2 MB).

``golden/torch_init.npz`` holds PyTorch's default initialisation per added layer (see make_golden.py).

Regenerate (needs torch; CI's live comparison in tests/coronanet_tf/test_convert.py fails when the file
and today's PyTorch disagree):

    python -m tests.coronanet_tf.make_golden
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parent / "golden" / "convert_vgg_ae.npz"
#: PyTorch's default initialisation of the layers CORONA-Net adds (test_torch_init_golden.py)
INIT_GOLDEN = GOLDEN.with_name("torch_init.npz")
INIT_DRAWS = 4_000  # samples per layer for the spread comparison (std within 3% = 4 sigma)
WEIGHTS_SEED = 2026
INPUTS_SEED = 7
BATCH = 2
SIDE = 224
#: PCG64 streams are stable across NumPy versions and machines (NumPy's policy for ``default_rng``)


def seeded_state_dict(keys, shapes, seed: int = WEIGHTS_SEED) -> dict[str, np.ndarray]:
    """A ``vgg_ae`` state dict of NumPy arrays in PyTorch layouts: He-scaled convolution / linear
    weights, small biases, BatchNorm affine parameters near (1, 0), running means near 0 and running
    variances in [0.5, 1.5) (so eval-mode BatchNorm is exercised), ``num_batches_tracked`` 1000."""
    rng = np.random.default_rng(seed)
    keys = [str(k) for k in keys]
    batchnorms = {k.rsplit(".", 1)[0] for k in keys if k.endswith(".running_mean")}
    state = {}
    for key, shape in zip(keys, shapes):
        shape = tuple(int(s) for s in shape)
        module, name = key.rsplit(".", 1)
        if name == "num_batches_tracked":
            state[key] = np.array(1000, dtype=np.int64)
            continue
        if module in batchnorms:
            draw = {"weight": lambda: 1.0 + 0.2 * rng.standard_normal(shape),
                    "bias": lambda: 0.2 * rng.standard_normal(shape),
                    "running_mean": lambda: 0.2 * rng.standard_normal(shape),
                    "running_var": lambda: 0.5 + rng.random(shape)}[name]
        elif name == "weight":
            fan_in = int(np.prod(shape[1:]))
            draw = lambda: rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)  # noqa: E731
        else:
            draw = lambda: 0.05 * rng.standard_normal(shape)  # noqa: E731
        state[key] = np.asarray(draw(), dtype=np.float32)
    return state


def seeded_inputs(seed: int = INPUTS_SEED) -> np.ndarray:
    """``[2, 224, 224, 3]`` float32 NHWC, standard normal: the scale of ImageNet-normalised images."""
    return np.random.default_rng(seed).standard_normal((BATCH, SIDE, SIDE, 3)).astype(np.float32)


def reconstruction_sample(rec: np.ndarray) -> dict[str, np.ndarray]:
    """The stored part of an NHWC ``[N, 224, 224, 3]`` reconstruction: a 7-pixel grid and the borders."""
    return {"rec_grid": rec[:, ::7, ::7, :], "rec_top": rec[:, :3], "rec_bottom": rec[:, -3:]}


def load_golden(path: Path = GOLDEN) -> dict[str, np.ndarray]:
    """The golden file's arrays (``allow_pickle=False``: strings are stored as NumPy unicode arrays)."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
