"""Explanations: Grad-CAM maps and their overlay figures."""
