"""Metrics against synthetic ground truth (design.md §6) and the `recmv eval` driver."""

from recmv.evaluation.evaluate import EvaluationOptions, EvaluationResult, evaluate, write_result

__all__ = ["EvaluationOptions", "EvaluationResult", "evaluate", "write_result"]
