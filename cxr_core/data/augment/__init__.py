"""Augmentation: Keras 2 ImageDataGenerator in TensorFlow ops, on the host or the accelerator."""
