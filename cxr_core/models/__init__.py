"""Building a family's model for an experiment and summarising it."""
