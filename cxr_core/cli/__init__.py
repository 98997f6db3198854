"""The covid-cxr command: parsers and the calls they make, nothing else."""
