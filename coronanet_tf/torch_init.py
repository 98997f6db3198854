"""PyTorch's default initialisation of Conv2d, ConvTranspose2d and Linear as Keras initializers [CR].

The authors' ``vgg_ae`` [CR] creates the 1x1 bottleneck ``nscnn.0`` (``Conv2d(512, 100, 1)``), the
four ``classifier`` Linear layers and the twelve ``Decoder224.upsample*`` ConvTranspose2d layers
without initialising them itself, so they start from PyTorch's ``reset_parameters``:

* weight: ``kaiming_uniform_(w, a=sqrt(5))``: gain ``sqrt(2 / (1 + 5)) = sqrt(1/3)``, bound
  ``gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in)``, i.e. ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``;
* bias: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with the WEIGHT's ``fan_in``.

``fan_in`` as ``torch.nn.init._calculate_fan_in_and_fan_out`` computes it: ``weight.size(1) x``
the kernel's spatial size. For ``Conv2d`` (weight ``(out, in, kh, kw)``) that is ``in x kh x kw``;
for ``Linear`` (``(out, in)``) ``in``; for ``ConvTranspose2d``, whose weight is ``(in, out, kh,
kw)``, it is ``out x kh x kw`` (torch's quirk: the "fan_in" of a transposed convolution counts its
OUTPUT channels).

Keras stores the same kernels as Dense ``(in, out)``, Conv2D ``(kh, kw, in, out)`` and
Conv2DTranspose ``(kh, kw, out, in)``, so :func:`torch_fan_in` reads the torch fan-in from a Keras
kernel shape and its ``layout``. The random streams are Keras', not torch's: distributions match,
values do not.
"""

from __future__ import annotations

import math
from typing import Sequence

import keras

LAYOUTS = ("dense", "conv2d", "conv2d_transpose")


def torch_fan_in(kernel_shape: Sequence[int], layout: str) -> int:
    """PyTorch's ``fan_in`` of a layer from its KERAS kernel shape.

    ``layout``: ``dense`` (kernel ``(in, out)`` -> ``in``), ``conv2d`` (``(kh, kw, in, out)`` ->
    ``in * kh * kw``) or ``conv2d_transpose`` (``(kh, kw, out, in)`` -> ``out * kh * kw``, torch
    taking ``weight.size(1)`` of its ``(in, out, kh, kw)`` weight). ValueError for another layout or
    a kernel of the wrong rank.
    """
    shape = tuple(int(s) for s in kernel_shape)
    if layout == "dense":
        if len(shape) != 2:
            raise ValueError(f"torch_fan_in: a dense kernel is (in, out), found shape {shape}")
        return shape[0]
    if layout in ("conv2d", "conv2d_transpose"):
        if len(shape) != 4:
            raise ValueError(f"torch_fan_in: a {layout} kernel is 4-D (kh, kw, ., .), found shape {shape}")
        return shape[0] * shape[1] * shape[2]
    raise ValueError(f"torch_fan_in: layout must be one of {LAYOUTS}, found {layout!r}")


def torch_bound(fan_in: int) -> float:
    """``1 / sqrt(fan_in)``: the half-width of PyTorch's default weight and bias distributions
    (0 when ``fan_in`` is 0, as torch does for the bias)."""
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


@keras.saving.register_keras_serializable(package="coronanet_tf")
class TorchDefaultKernel(keras.initializers.RandomUniform):
    """``kaiming_uniform_(a=sqrt(5))`` of a Keras kernel: ``U(-b, b)``, ``b = 1/sqrt(fan_in)``,
    ``fan_in`` from the kernel shape by :func:`torch_fan_in` (``layout`` as there)."""

    def __init__(self, layout: str, seed=None):
        if layout not in LAYOUTS:
            raise ValueError(f"TorchDefaultKernel: layout must be one of {LAYOUTS}, found {layout!r}")
        super().__init__(minval=-1.0, maxval=1.0, seed=seed)
        self.layout = layout

    def __call__(self, shape, dtype=None):
        bound = torch_bound(torch_fan_in(shape, self.layout))
        return keras.random.uniform(shape, minval=-bound, maxval=bound, seed=self.seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"layout": self.layout, "seed": super().get_config()["seed"]}


@keras.saving.register_keras_serializable(package="coronanet_tf")
class TorchDefaultBias(keras.initializers.RandomUniform):
    """PyTorch's default bias: ``U(-b, b)``, ``b = 1/sqrt(fan_in)`` of the layer's WEIGHT
    (``fan_in`` given, as a bias shape does not tell it)."""

    def __init__(self, fan_in: int, seed=None):
        if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 0:
            raise ValueError(f"TorchDefaultBias: fan_in must be an integer >= 0, found {fan_in!r}")
        bound = torch_bound(fan_in)
        super().__init__(minval=-bound, maxval=bound, seed=seed)
        self.fan_in = fan_in

    def get_config(self) -> dict:
        return {"fan_in": self.fan_in, "seed": super().get_config()["seed"]}


def torch_default_initializers(layout: str, kernel_shape: Sequence[int]) -> dict:
    """``{"kernel_initializer", "bias_initializer"}`` for a Keras layer whose kernel will have
    ``kernel_shape`` (Keras layout ``layout``): PyTorch's default initialisation of the same layer."""
    return {"kernel_initializer": TorchDefaultKernel(layout),
            "bias_initializer": TorchDefaultBias(torch_fan_in(kernel_shape, layout))}
