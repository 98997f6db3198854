"""CORONA-Net's architecture tables, from the authors' PyTorch ``vgg_ae`` [CR] (docs/PAPERS.md §3.1).

Shared by the Keras model (:mod:`coronanet_tf.model`) and the PyTorch key maps
(:mod:`coronanet_tf.torch_weights`), so that neither imports the other's module.
"""

from __future__ import annotations

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

#: layer whose output Grad-CAM uses: ReLU of the 13th (last) VGG convolution, 14x14x512 @224
#: (Keras VGG16's ``block5_conv3``; the following max-pool is ``net_fet_43``).
LAST_CONV_LAYER = "net_fet_42"
