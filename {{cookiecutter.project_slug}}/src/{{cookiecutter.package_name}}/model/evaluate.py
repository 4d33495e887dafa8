"""Judge a model on held-out rows: ranking quality, calibration and the cost at its threshold.

The figures at the threshold (precision, recall, false-positive rate) are those of the model as
it ships: the threshold travels inside the model file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    log_loss,
    roc_auc_score,
    roc_curve,
)

from {{ cookiecutter.package_name }}.data.contract import LABEL
from {{ cookiecutter.package_name }}.model.train import TrainedModel


@dataclass(frozen=True)
class Evaluation:
    """Metrics of one model on one held-out set."""

    roc_auc: float
    pr_auc: float
    recall_at_fpr: float
    target_fpr: float
    log_loss: float
    threshold: float
    true_negatives: int
    false_positives: int
    false_negatives: int
    true_positives: int
    rows: int

    @property
    def precision(self) -> float:
        """Share of flagged transactions that are fraud, at the shipped threshold."""
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        """Share of fraud flagged, at the shipped threshold."""
        fraud = self.true_positives + self.false_negatives
        return self.true_positives / fraud if fraud else 0.0

    @property
    def false_positive_rate(self) -> float:
        """Share of legitimate transactions flagged, at the shipped threshold."""
        legitimate = self.false_positives + self.true_negatives
        return self.false_positives / legitimate if legitimate else 0.0

    def metrics(self) -> dict[str, float]:
        """Every figure as a float, for MLflow and JSON (the figures at threshold included)."""
        measured = {name: float(value) for name, value in asdict(self).items()}
        return {
            **measured,
            "precision": self.precision,
            "recall": self.recall,
            "false_positive_rate": self.false_positive_rate,
        }

    @classmethod
    def from_metrics(cls, metrics: dict[str, float]) -> Evaluation:
        """The inverse of `metrics()`: counts become integers again."""
        names = {field.name for field in fields(cls)}
        counts = {field.name for field in fields(cls) if field.type in (int, "int")}
        values: dict[str, Any] = {
            k: int(v) if k in counts else v for k, v in metrics.items() if k in names
        }
        return cls(**values)


def evaluate(model: TrainedModel, test_df: pd.DataFrame, target_fpr: float) -> Evaluation:
    """ROC-AUC, PR-AUC, recall at `target_fpr`, log loss and the confusion matrix at threshold."""
    labels = test_df[LABEL].to_numpy()
    if len(np.unique(labels)) < 2:
        raise ValueError(
            "the held-out rows hold a single class: use more data or a larger test set"
        )
    scores = model.predict(test_df)
    fpr, tpr, _ = roc_curve(labels, scores)
    tn, fp, fn, tp = confusion_matrix(labels, scores >= model.threshold, labels=[0, 1]).ravel()
    return Evaluation(
        roc_auc=float(roc_auc_score(labels, scores)),
        pr_auc=float(average_precision_score(labels, scores)),
        recall_at_fpr=float(np.interp(target_fpr, fpr, tpr)),
        target_fpr=target_fpr,
        log_loss=float(log_loss(labels, np.clip(scores, 1e-7, 1 - 1e-7))),
        threshold=model.threshold,
        true_negatives=int(tn),
        false_positives=int(fp),
        false_negatives=int(fn),
        true_positives=int(tp),
        rows=len(labels),
    )
