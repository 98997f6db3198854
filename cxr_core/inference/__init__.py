"""A trained model with its preprocessing: from a run or a preset, predictions, export."""
