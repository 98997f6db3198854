"""``train.trainable``: which layers a training session updates.

``all`` (default) trains every layer, backbone included (fine-tuning end to end). ``head`` freezes every
nested model of the built model (the ImageNet backbone a family wraps as one layer, e.g. a
``keras.applications`` model) and trains only the layers around it: the frozen-backbone reading of a
paper that fine-tunes "without retraining end-to-end". Frozen BatchNormalization layers run in inference
mode (their moving statistics stay), as in tf.keras 2 and Keras 3.
"""

from __future__ import annotations

from cxr_core.config.choices import TRAINABLE
from cxr_core.errors import CxrError


def set_trainable(model, mode: str) -> int:
    """Apply ``train.trainable`` to a built, uncompiled ``model``; returns the number of frozen nested models.

    Raises ``ValueError`` for another ``mode``; :class:`~cxr_core.errors.CxrError` for ``head`` when ``model`` has no nested model
    (naming the model), since then nothing would tell the backbone from the head.
    """
    if mode not in TRAINABLE:
        raise ValueError(f"train.trainable must be one of {TRAINABLE}; got {mode!r}")
    if mode == "all":
        return 0
    import keras

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if not nested:
        raise CxrError(f"train.trainable head: model {model.name!r} has no nested backbone model to freeze "
                         f"(its layers: {', '.join(layer.name for layer in model.layers[:8])}...); use all")
    for layer in nested:
        layer.trainable = False
    return len(nested)
