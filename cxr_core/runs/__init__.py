"""Run directories: layout, inputs, clean starts, progress, provenance, MLflow logging."""
