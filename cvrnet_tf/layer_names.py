"""CVR-Net's layer names: the backbone prefixes and the two ResNet50 naming schemes [CVR-T], [KA].

Shared by the model builder (:mod:`cvrnet_tf.model`) and the weight loaders
(:mod:`cvrnet_tf.backbone`, :mod:`cvrnet_tf.weights`), which map the authors' file names onto ours.
"""

from __future__ import annotations

RESNET_FLAVOURS = ("legacy", "keras")
#: The authors renamed every backbone layer with these prefixes after building it [CVR-T].
RES_PREFIX = "res_"
XCE_PREFIX = "xce_"
#: Branches of the ensemble, each ending in its own softmax [CVR-T].
NUM_BRANCHES = 5

#: Number of blocks per ResNet50 stage and the filters of its bottleneck (stages 2..5) [KA].
RESNET_STAGES = ((2, 3, (64, 64, 256)), (3, 4, (128, 128, 512)), (4, 6, (256, 256, 1024)), (5, 3, (512, 512, 2048)))
LEGACY_UNIT = {0: "1", 1: "2a", 2: "2b", 3: "2c"}  # keras unit index -> legacy branch suffix


def resnet_conv_names(flavour: str, stage: int, block: int, unit: int) -> tuple[str, str]:
    """(conv, bn) names, without prefix, of one conv of a bottleneck block.

    ``block`` counts from 1; ``unit`` is 0 for the shortcut conv and 1..3 for the main path.
    """
    if flavour == "legacy":
        letter = "abcdef"[block - 1]
        suffix = LEGACY_UNIT[unit]
        return f"res{stage}{letter}_branch{suffix}", f"bn{stage}{letter}_branch{suffix}"
    base = f"conv{stage}_block{block}_{unit}"
    return f"{base}_conv", f"{base}_bn"


def resnet_name_map() -> dict[str, str]:
    """Legacy (keras-applications 1.0.8) -> Keras 3 names of ResNet50's weight-bearing layers [KA].

    E.g. ``res2a_branch2a -> conv2_block1_1_conv``, ``bn2a_branch2a -> conv2_block1_1_bn``,
    ``res2a_branch1 -> conv2_block1_0_conv``, ``conv1 -> conv1_conv``, ``bn_conv1 -> conv1_bn``.
    No prefixes.
    """
    mapping = {"conv1": "conv1_conv", "bn_conv1": "conv1_bn"}
    for stage, n_blocks, _ in RESNET_STAGES:
        for block in range(1, n_blocks + 1):
            for unit in (0, 1, 2, 3) if block == 1 else (1, 2, 3):
                legacy = resnet_conv_names("legacy", stage, block, unit)
                modern = resnet_conv_names("keras", stage, block, unit)
                mapping[legacy[0]] = modern[0]
                mapping[legacy[1]] = modern[1]
    return mapping


def tap_layer_names(resnet: str = "legacy") -> dict[str, str]:
    """Names of the five tapped layers in our model, by branch (``"1"`` is the concatenation)."""
    if resnet not in RESNET_FLAVOURS:
        raise ValueError(f"resnet must be one of {RESNET_FLAVOURS}, got {resnet!r}")
    stage3, stage4 = (("activation_22", "activation_40") if resnet == "legacy"
                      else ("conv3_block4_out", "conv4_block6_out"))
    return {
        "1": "concatenate_1",
        "2": RES_PREFIX + stage4,
        "3": RES_PREFIX + stage3,
        "4": XCE_PREFIX + "block4_sepconv2_bn",
        "5": XCE_PREFIX + "block13_sepconv2_bn",
    }
