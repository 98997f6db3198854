"""Metrics: confusion-matrix metrics, score metrics (ROC, PR), bootstrap intervals, paper tables."""
