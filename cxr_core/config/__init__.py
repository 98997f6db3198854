"""Experiment configuration: typed sections, the schema checker, preset notes, callback schemas, parameter counts."""
