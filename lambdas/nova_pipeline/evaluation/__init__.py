"""Evaluation: predictions, metrics per task, cost, the quality gate and the report."""
