"""The figures logged with every run: ROC and precision-recall curves, feature importance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from {{ cookiecutter.package_name }}.model.train import TrainedModel


def roc_figure(labels: np.ndarray, scores: np.ndarray) -> Figure:
    """The ROC curve of the held-out rows."""
    display = RocCurveDisplay.from_predictions(labels, scores)
    display.ax_.set_title("ROC curve (held-out rows)")
    return cast(Figure, display.figure_)


def precision_recall_figure(labels: np.ndarray, scores: np.ndarray) -> Figure:
    """The precision-recall curve of the held-out rows."""
    display = PrecisionRecallDisplay.from_predictions(labels, scores)
    display.ax_.set_title("Precision-recall curve (held-out rows)")
    return cast(Figure, display.figure_)


def shap_figure(importance: dict[str, float]) -> Figure:
    """Mean absolute SHAP value per feature (what moves the scores), largest on top."""
    return _ranked_bars(
        importance, "Global importance: mean |SHAP value| (log-odds), held-out rows"
    )


def importance_figure(model: TrainedModel) -> Figure:
    """Total gain of each feature, largest first."""
    gain = model.booster.get_score(importance_type="total_gain")
    return _ranked_bars(gain, "Feature importance (total gain)")


def _ranked_bars(values: Mapping[str, Any], title: str) -> Figure:
    """One horizontal bar per feature, the largest on top."""
    ranked = sorted(values.items(), key=lambda item: item[1])
    figure, axes = plt.subplots(figsize=(7, max(3, len(ranked) * 0.3)))
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set_title(title)
    figure.tight_layout()
    return figure
