"""Champion against staging on served traffic, read from the prediction log (`<slug> compare`).

In shadow mode every logged request carries both models' scores: agreement and score difference
are measured on the same requests. In canary mode each model answered its own customers: their
shares and flag rates are reported side by side. Where labels are given (transaction id and
is_fraud), both models' precision, recall and false-positive rate are measured on the requests
they scored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.data.contract import LABEL
from {{ cookiecutter.package_name }}.serving.prediction_log import read_entries


def served_frame(path: Path) -> pd.DataFrame:
    """One row per logged request: who answered, both scores when shadowed."""
    rows = []
    for entry in read_entries(path):
        shadow = entry.get("shadow") or {}
        rows.append(
            {
                "transaction_id": str(entry["transaction_id"]),
                "served_by": entry.get("served_by", "champion"),
                "model_version": entry["model_version"],
                "fraud_probability": entry["fraud_probability"],
                "is_fraud": entry["is_fraud"],
                "shadow_version": shadow.get("model_version"),
                "shadow_probability": shadow.get("fraud_probability"),
                "shadow_is_fraud": shadow.get("is_fraud"),
            }
        )
    return pd.DataFrame(rows)


def _rates(flagged: pd.Series, truth: pd.Series) -> dict[str, float | int | None]:
    """Precision, recall and false-positive rate of decisions against labels."""
    flagged, truth = flagged.astype(bool).to_numpy(), truth.astype(bool).to_numpy()
    positives, negatives = int(truth.sum()), int((~truth).sum())
    caught = int((flagged & truth).sum())
    return {
        "rows": len(truth),
        "frauds": positives,
        "precision": round(caught / int(flagged.sum()), 4) if flagged.any() else None,
        "recall": round(caught / positives, 4) if positives else None,
        "false_positive_rate": round(int((flagged & ~truth).sum()) / negatives, 4)
        if negatives
        else None,
    }


def _labelled(group: pd.DataFrame, known: pd.Series) -> dict[str, float | int | None]:
    """The decision rates of a model on the requests it answered that have labels."""
    labelled = group[group["transaction_id"].isin(known.index)]
    return _rates(labelled["is_fraud"], known.loc[labelled["transaction_id"]])


def compare(path: Path, labels: pd.DataFrame | None = None) -> dict[str, Any]:
    """The comparison of the staging model with the champion over the whole log."""
    served = served_frame(path)
    shadowed = served[served["shadow_version"].notna()] if len(served) else served
    canary = served[served["served_by"] == "staging"] if len(served) else served
    if shadowed.empty and canary.empty:
        raise ValueError(
            f"{path} holds no shadow or canary request: serve with serving.staging_mode shadow "
            "or canary (after make bento with a staging version) first"
        )
    known = None
    if labels is not None:
        known = labels.assign(transaction_id=labels["transaction_id"].astype(str)).set_index(
            "transaction_id"
        )[LABEL]
    result: dict[str, Any] = {"log": str(path), "requests": len(served)}
    if not shadowed.empty:
        difference = (shadowed["fraud_probability"] - shadowed["shadow_probability"]).abs()
        shadow: dict[str, Any] = {
            "champion_version": str(shadowed["model_version"].iloc[-1]),
            "staging_version": str(shadowed["shadow_version"].iloc[-1]),
            "requests": len(shadowed),
            "decision_agreement": round(
                float((shadowed["is_fraud"] == shadowed["shadow_is_fraud"]).mean()), 4
            ),
            "mean_abs_score_difference": round(float(difference.mean()), 6),
            "p95_abs_score_difference": round(float(np.quantile(difference, 0.95)), 6),
        }
        if known is not None:
            labelled = shadowed[shadowed["transaction_id"].isin(known.index)]
            truth = known.loc[labelled["transaction_id"]]
            shadow["labelled"] = {
                "champion": _rates(labelled["is_fraud"], truth),
                "staging": _rates(labelled["shadow_is_fraud"], truth),
            }
        result["shadow"] = shadow
    if not canary.empty:
        champion = served[served["served_by"] == "champion"]
        groups = {"champion": champion, "staging": canary}
        result["canary"] = {
            name: {
                "version": str(group["model_version"].iloc[-1]) if len(group) else None,
                "requests": len(group),
                "share": round(len(group) / len(served), 4),
                "flag_rate": round(float(group["is_fraud"].mean()), 4) if len(group) else None,
                **({"labelled": _labelled(group, known)} if known is not None else {}),
            }
            for name, group in groups.items()
        }
    return result


def staging_version(comparison: dict[str, Any]) -> str:
    """The staging version a comparison is about."""
    if "shadow" in comparison:
        return str(comparison["shadow"]["staging_version"])
    return str(comparison["canary"]["staging"]["version"])
