"""Weight files: loading, reading without a model, transferring by layer name, ImageNet backbones."""
