"""Replication studies: experiments x seeds x folds as independent runs, and whether a published number replicated."""
