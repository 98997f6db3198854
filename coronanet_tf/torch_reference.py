"""A PyTorch CORONA-Net with the authors' module layout, for cross-checking the Keras port.

Written from the description in docs/PAPERS.md §3.1 of the authors' ``vgg_ae`` / ``Decoder224`` [CR]
(not copied): the same module names and indices, so ``state_dict()`` has the keys of the authors'
``covid.pth.tar`` (docs/PAPERS.md §3.6), including the unused ``dec.conv1..3``, ``dec.fc`` and
``dec.fc1``. torchvision is not needed (and its build beside torch 2.13 does not import,
docs/VERIFIED.md §1): ``vgg16_bn_features()`` rebuilds ``torchvision.models.vgg16_bn().features`` with the
same indices 0..43.

Only the tests and users who want to compare frameworks import this module; the package never does
at import time (PyTorch is optional: ``pip install covid-cxr-tf[torch]``).
"""

from __future__ import annotations

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "coronanet_tf.torch_reference needs PyTorch: pip install covid-cxr-tf[torch]  (or: pip install torch)"
    ) from exc

from coronanet_tf.model import DECODER224_LAYERS, VGG16_CFG


def vgg16_bn_features() -> nn.Sequential:
    """``torchvision.models.vgg16_bn().features``: indices 0..43, BN eps 1e-5 / momentum 0.1 [CR]."""
    modules: list[nn.Module] = []
    in_ch = 3
    for v in VGG16_CFG:
        if v == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            modules += [nn.Conv2d(in_ch, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            in_ch = v
    return nn.Sequential(*modules)


class Interpolate(nn.Module):
    """Parameter-free resize module of [CR] (``interp1``/``interp2``; never called in forward)."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, x):  # pragma: no cover - unused, as in [CR]
        return F.interpolate(x, size=self.size)


class Decoder224(nn.Module):
    """[CR] ``Decoder224``: logits ``view(-1, 1, 1, 3)`` -> 12 x [ConvTranspose2d -> BN(eps 1e-3) -> tanh]."""

    def __init__(self):
        super().__init__()
        in_ch = 1
        for i, (out, kernel, stride, pad) in enumerate(DECODER224_LAYERS, start=1):
            setattr(self, f"upsample{i}", nn.ConvTranspose2d(in_ch, out, kernel_size=kernel, stride=stride, padding=pad))
            in_ch = out
        # Defined in [CR] but unused by forward; kept so state_dict() has the authors' keys.
        self.interp1 = Interpolate(size=(16, 16))
        self.conv1 = nn.Conv2d(in_channels=32, out_channels=10, kernel_size=3)
        for i, (out, *_rest) in enumerate(DECODER224_LAYERS, start=1):
            setattr(self, f"batchnorm{i}", nn.BatchNorm2d(out, 1e-3))
        self.interp2 = Interpolate(size=(32, 32))
        self.conv2 = nn.Conv2d(in_channels=10, out_channels=15, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels=15, out_channels=3, kernel_size=3, padding=1)
        self.fc = nn.Linear(32 * 32, 1000, bias=False)
        self.fc1 = nn.Linear(1000, 255 * 5, bias=False)

    def forward(self, x):
        x = x.view(-1, 1, 1, 3)
        for i in range(1, len(DECODER224_LAYERS) + 1):
            x = torch.tanh(getattr(self, f"batchnorm{i}")(getattr(self, f"upsample{i}")(x)))
        return x


class CoronaNetTorch(nn.Module):
    """The authors' ``vgg_ae`` [CR]: ``net_fet`` -> ``nscnn`` -> flatten (C,H,W) -> ``classifier``; ``dec``.

    ``forward`` returns ``(logits, reconstruction)``; the decoder always runs, as in [CR].
    ``num_classes`` other than 3 only works with ``with_decoder=False`` (the decoder views 3 logits).
    """

    def __init__(self, num_classes: int = 3, with_decoder: bool = True):
        super().__init__()
        if with_decoder:
            self.dec = Decoder224()  # registered first, as in [CR] (state_dict order only)
        self.net_fet = vgg16_bn_features()
        self.nscnn = nn.Sequential(nn.Conv2d(512, 100, kernel_size=1, padding=0))
        self.classifier = nn.Sequential(
            nn.Linear(4900, 50), nn.ReLU(), nn.Linear(50, 30), nn.ReLU(), nn.Linear(30, 20), nn.ReLU(),
            nn.Linear(20, num_classes),
        )
        self.with_decoder = with_decoder

    def forward(self, x):
        conv = self.nscnn(self.net_fet(x))
        c = self.classifier(conv.view(conv.size(0), -1))
        if not self.with_decoder:
            return c
        return c, self.dec(c)


def build_torch_reference(num_classes: int = 3, with_decoder: bool = True, seed: int | None = None,
                          randomize_bn: bool = False, calibration_batch=None) -> CoronaNetTorch:
    """A :class:`CoronaNetTorch` in eval mode.

    Args:
        seed: ``torch.manual_seed`` before building (default init otherwise unseeded).
        randomize_bn: give every BatchNorm random affine parameters and random running statistics
            (seeded), so that comparisons exercise eval-mode BatchNorm.
        calibration_batch: optional NCHW float tensor; with ``randomize_bn`` the running statistics
            are first measured on it (one train-mode pass, cumulative average) and then perturbed
            (mean +- 0.1 std, variance x U(0.7, 1.3)), which keeps activations of a randomly
            initialised 13-layer VGG well scaled instead of vanishing.
    """
    if seed is not None:
        torch.manual_seed(seed)
    model = CoronaNetTorch(num_classes=num_classes, with_decoder=with_decoder)
    if not randomize_bn:
        return model.eval()
    generator = torch.Generator().manual_seed(0 if seed is None else seed + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for module in bns:
            n = module.num_features
            module.weight.copy_(1.0 + 0.2 * torch.randn(n, generator=generator))
            module.bias.copy_(0.2 * torch.randn(n, generator=generator))
            module.running_mean.copy_(0.2 * torch.randn(n, generator=generator))
            module.running_var.copy_(0.5 + torch.rand(n, generator=generator))
        if calibration_batch is not None:
            for module in bns:
                module.reset_running_stats()
                module.momentum = None  # cumulative average over the calibration pass
            model.train()
            model(calibration_batch)
            for module in bns:
                n = module.num_features
                module.momentum = 0.1
                std = module.running_var.sqrt()
                module.running_mean.add_(0.1 * std * torch.randn(n, generator=generator))
                module.running_var.mul_(0.7 + 0.6 * torch.rand(n, generator=generator))
        for module in bns:
            module.num_batches_tracked.fill_(1000)
    return model.eval()
