"""Evaluation: metrics, the metrics table of the paper's ablations, and the report."""
