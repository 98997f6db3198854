"""Fitting one split: optimizer, callbacks, checkpoints, precision, BatchNorm variance, model reuse."""
