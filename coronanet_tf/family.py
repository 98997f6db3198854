"""CORONA-Net's :class:`cxr_core.family.ModelFamily` (entry point ``coronanet = coronanet_tf.family:FAMILY``).

Light: the builder, the two-phase fit and the weight hooks are :class:`cxr_core.family.Lazy`
references, so the registry, the published tables, presets and recipes load without TensorFlow (or
PyTorch).
"""

from __future__ import annotations

from cxr_core.family import DataPart, ModelFamily, ModelPart, PublishedPart, TrainingPart, WeightsPart, lazy

from .layout import LAST_CONV_LAYER
from .presets import PRESETS
from .published import TABLES
from .recipes import RECIPES
from .report import CLASS_ALIASES, PUBLISHED_ALIASES, REPORT_FIGURES, REPORT_LAYOUTS
from .settings import CoronaNetSettings


FAMILY = ModelFamily(
    name="coronanet",
    description="CORONA-Net: VGG16-BN encoder, MLP classifier, Decoder224 (two-phase re-init + classify) [CR, S0]",
    presets=PRESETS,
    extra_schema=CoronaNetSettings,  # extra.coronanet, checked when a config is loaded
    model=ModelPart(
        build=lazy("coronanet_tf.model:build_coronanet"),
        output_kind="logits",
        last_conv_layer=LAST_CONV_LAYER,
        # Linear(4900) needs the 7x7 bottleneck of a 224x224 input and the decoder always reconstructs
        # 224x224 [CR]: a smoke run keeps the input and cuts the steps of both phases.
        smoke_image_size=None,
    ),
    weights=WeightsPart(
        load=lazy("coronanet_tf.weights:load_weights"),
        recognise=lazy("coronanet_tf.weights:recognise_weights"),
        convert=lazy("coronanet_tf.convert:convert_torch_checkpoint"),
    ),
    training=TrainingPart(
        fit=lazy("coronanet_tf.training:fit_phases"),  # phase 1 re-init, phase 2 classify [CR]
        optimizers={"adam_l2": lazy("coronanet_tf.schedule:adam_l2")},  # torch Adam, coupled L2 [CR]
        smoke_overrides={"extra": {"coronanet": {"reinit": {"epochs": 1}}}},
    ),
    data=DataPart(recipes=RECIPES),  # covid-cxr data build covidx --split-file ...
    published=PublishedPart(tables=TABLES, aliases=PUBLISHED_ALIASES, report_layouts=REPORT_LAYOUTS,
                            report_figures=REPORT_FIGURES, class_aliases=CLASS_ALIASES),
)
