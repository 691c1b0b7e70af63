"""Evaluating a model with weights on a labelled dataset, beside its published numbers.

Modules: `matching` (dataset classes onto the network's outputs), `data` (the test
split at the checkpoint's input size), `metrics` (counts and `EvaluationResult`),
`evaluate` (the job, with typed progress events), `report` (PNG, CSV, JSON).

    result = evaluate("cifar-resnet20.akamaster", None, "zip:test.zip", limit=1000)
    print(result.top1, result.published_top1, result.top1_diff)
    write_report(result, "eval-out")
"""

from resnet_studio.core.evaluation.evaluate import (
    DecodeProgress,
    DownloadProgress,
    EvalProgress,
    Event,
    evaluate,
    evaluate_loaded,
)
from resnet_studio.core.evaluation.matching import ClassMatch, match_classes
from resnet_studio.core.evaluation.metrics import EvaluationResult
from resnet_studio.core.evaluation.report import write_report

__all__ = [
    "ClassMatch",
    "DecodeProgress",
    "DownloadProgress",
    "EvalProgress",
    "EvaluationResult",
    "Event",
    "evaluate",
    "evaluate_loaded",
    "match_classes",
    "write_report",
]
