"""Data audits: duplicates, near-duplicates, split leaks, class x source shortcuts, run hazards."""
