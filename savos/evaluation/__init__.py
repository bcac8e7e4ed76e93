"""Prediction, the prediction format, metrics and scoring, non-learned baselines, the report."""
