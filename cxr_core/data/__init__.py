"""Data: sample tables, image decoding, augmentation, splits and the tf.data pipeline."""
