"""Decoding image files to uint8 RGB, resizing as each paper's code did, input-range checks."""
