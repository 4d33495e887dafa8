"""Release evidence: a JSON file, a readable page and a model card per registered model version.

Everything comes from the records made while the model was trained and managed: the MLflow
version's tags (code, data hashes, features, environment, gate), its run (params, metrics,
quality gate), the approvals recorded with it, and the latest monitoring result. The files are
written under `reports/releases/v<N>/` and logged with the version's MLflow run, so they outlive
the machine or pod that trained the model. A version's `lineage_id` (its MLflow run id) finds them.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Workspace

ARTIFACT_FOLDER = "evidence"
INTENDED_USE = (
    "Scores card transactions for fraud risk so that risky ones can be held for review. "
    "It supports a human decision; it does not block customers on its own."
)
LIMITATIONS = (
    "Trained on synthetic transactions: retrain on real data before any production use.",
    "The decision threshold sits at the target false-positive rate measured on the newest rows "
    "at training time; the rate moves when the data drifts.",
    "Customers unknown to the online store are scored with default features and are less "
    "reliable; the service says so with `features_missing`.",
    "Performance is measured on held-out newest rows only. Fairness is measured for the groups "
    "in gate.fairness.groups (synthetic age bands and payment channels); groups smaller than "
    "gate.fairness.min_group_rows are reported, not judged.",
    "Global importance says which features move scores on average, not why one score is high.",
)


def evidence_folder(settings: Workspace, version: str) -> Path:
    """Where a version's evidence files are written locally."""
    return settings.resolve(settings.paths.reports_dir) / "releases" / f"v{version}"


def collect(settings: Workspace, version: str) -> dict[str, Any]:
    """The evidence of one registered version, gathered from its MLflow records."""
    client = registry.mlflow_client(settings)
    name = registry.model_name(settings)
    found = client.get_model_version(name, version)
    version_tags = dict(found.tags)
    run = client.get_run(str(found.run_id))
    metrics = json.loads(version_tags.get(tags.METRICS, "{}"))
    thresholds = json.loads(version_tags.get(tags.GATE_THRESHOLDS, "{}"))
    return {
        "model": {
            "name": name,
            "version": str(found.version),
            "aliases": sorted(found.aliases),
            "lineage_id": str(found.run_id),
            "registered_at": _utc(found.creation_timestamp),
            "model_uri": f"models:/{name}/{found.version}",
        },
        "code": {
            "git_commit": version_tags.get(tags.GIT_COMMIT, "unknown"),
            "git_dirty": version_tags.get(tags.GIT_DIRTY, "unknown"),
        },
        "data": {
            "dvc": {
                key.removeprefix(tags.DVC_PREFIX): value
                for key, value in version_tags.items()
                if key.startswith(tags.DVC_PREFIX)
            },
            **json.loads(version_tags.get(tags.TRAINING_DATA, "{}")),
        },
        "features": {
            "feature_service": version_tags.get(tags.FEATURE_SERVICE),
            "definition": json.loads(version_tags.get(tags.FEATURE_SERVICE_DEFINITION, "{}")),
        },
        "params": dict(sorted(run.data.params.items())),
        "metrics": {
            "values": metrics,
            "gate": {"result": version_tags.get(tags.GATE, "not judged"), "thresholds": thresholds},
            "compared_with_champion": _comparison(version_tags.get(tags.COMPARED_WITH_CHAMPION))
            or "none",
            "run_overrides": json.loads(version_tags.get(tags.RUN_OVERRIDES, "[]")),
        },
        "quality_gate": json.loads(run.data.tags.get(tags.QUALITY_GATE, "{}")),
        "fairness": json.loads(version_tags.get(tags.FAIRNESS, "{}")),
        "explanations": {
            "global_importance": json.loads(run.data.tags.get(tags.GLOBAL_IMPORTANCE, "{}")),
            "method": "mean absolute SHAP value per feature (XGBoost TreeSHAP, pred_contribs), "
            "on the newest held-out rows; figure plots/shap_importance.png in the run",
        },
        "drift": {
            "retraining_trigger": json.loads(version_tags.get(tags.RETRAINING_TRIGGER, "{}")),
            "last_monitoring": json.loads(version_tags.get(tags.LAST_MONITORING, "{}")),
        },
        "serving_comparison": json.loads(version_tags.get(tags.SERVING_COMPARISON, "{}")),
        "environment": json.loads(version_tags.get(tags.ENVIRONMENT, "{}")),
        "mlflow": {
            "tracking_uri": settings.tracking.resolved_uri(settings.project_root),
            "experiment_id": run.info.experiment_id,
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
        },
        "approvals": [
            json.loads(value)
            for key, value in sorted(version_tags.items())
            if key.startswith(tags.AUDIT_PREFIX)
        ],
        "model_card": {
            "intended_use": INTENDED_USE,
            "limitations": list(LIMITATIONS),
        },
        "generated_at": datetime.now(timezone.utc).isoformat(),
    }


def _comparison(tag: str | None) -> dict[str, Any] | None:
    """The champion comparison the gate made (None when there was no champion)."""
    if not tag or not tag.startswith("{"):
        return None
    found: dict[str, Any] = json.loads(tag)
    return found


def _compared(comparison: dict[str, Any] | str) -> str:
    if not isinstance(comparison, dict):
        return "no champion to compare with"
    return (
        f"compared with champion v{comparison['version']} on {comparison['rows']} held-out rows "
        f"from {comparison['first_row']}, after its training data (up to "
        f"{comparison['champion_trained_until']})"
    )


def write(settings: Workspace, version: str) -> Path:
    """Write the JSON, the page and the model card of a version, log them; return the page."""
    evidence = collect(settings, version)
    folder = evidence_folder(settings, version)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evidence.json").write_text(json.dumps(evidence, indent=2, default=str) + "\n")
    page = folder / "evidence.md"
    page.write_text(render(evidence))
    (folder / "model_card.md").write_text(render_model_card(evidence))
    client = registry.mlflow_client(settings)
    run_id = evidence["model"]["lineage_id"]
    for path in (folder / "evidence.json", page, folder / "model_card.md"):
        client.log_artifact(run_id, str(path), ARTIFACT_FOLDER)
    uri = f"runs:/{run_id}/{ARTIFACT_FOLDER}/evidence.md"
    client.set_model_version_tag(registry.model_name(settings), version, tags.EVIDENCE, uri)
    return page


def record_serving_comparison(
    settings: Workspace, version: str, comparison: dict[str, Any]
) -> Path:
    """Keep a shadow or canary comparison on the staging version; rewrite its evidence."""
    registry.set_version_tag(settings, version, tags.SERVING_COMPARISON, json.dumps(comparison))
    folder = evidence_folder(settings, version)
    folder.mkdir(parents=True, exist_ok=True)
    saved = folder / "serving_comparison.json"
    saved.write_text(json.dumps(comparison, indent=2) + "\n")
    page = write(settings, version)
    client = registry.mlflow_client(settings)
    run_id = str(client.get_model_version(registry.model_name(settings), version).run_id)
    client.log_artifact(run_id, str(saved), ARTIFACT_FOLDER)
    return page


def locate(settings: Workspace, version: str | None = None, lineage_id: str | None = None) -> Path:
    """The evidence page of a version, found by number or by the `lineage_id` the service returns.

    A page missing locally (another machine trained the model) is rebuilt from MLflow.
    """
    if lineage_id is not None:
        version = registry.version_of_run(settings, lineage_id)
    if version is None:
        raise ValueError("give a model version or a lineage id")
    page = evidence_folder(settings, version) / "evidence.md"
    return page if page.is_file() else write(settings, version)


def render(evidence: dict[str, Any]) -> str:
    """The evidence as a Markdown page a reviewer can read top to bottom."""
    model, data, metrics = evidence["model"], evidence["data"], evidence["metrics"]
    lines = [
        f"# Release evidence: {model['name']} version {model['version']}",
        "",
        f"Lineage id (MLflow run): `{model['lineage_id']}`. Registered {model['registered_at']}; "
        f"aliases: {', '.join(model['aliases']) or 'none'}. Generated {evidence['generated_at']}.",
        "",
        "## Code",
        "",
        *_table(
            {
                "git commit": evidence["code"]["git_commit"],
                "uncommitted changes": evidence["code"]["git_dirty"],
            }
        ),
        "## Data (DVC)",
        "",
        *_table({**data["dvc"], **{k: v for k, v in data.items() if k != "dvc"}}),
        "## Features (Feast)",
        "",
        f"Feature service `{evidence['features']['feature_service']}`:",
        "",
        *_table(
            {view: ", ".join(names) for view, names in evidence["features"]["definition"].items()}
        ),
        "## Parameters",
        "",
        *_table(evidence["params"]),
        "## Metrics against the promotion gate",
        "",
        f"Gate: **{metrics['gate']['result']}** ({_compared(metrics['compared_with_champion'])})."
        " Settings overridden for this run: "
        f"{', '.join(metrics['run_overrides']) or 'none'}.",
        "",
        *_table(
            {
                **{f"gate {k}": v for k, v in metrics["gate"]["thresholds"].items()},
                **metrics["values"],
            }
        ),
        "## Data-quality gate (Evidently)",
        "",
        *_table(evidence["quality_gate"]),
        "## Drift",
        "",
        *_table(
            {
                "retraining trigger": _json_or_none(evidence["drift"]["retraining_trigger"]),
                "last monitoring": _json_or_none(evidence["drift"]["last_monitoring"]),
            }
        ),
        "## Fairness across customer groups (at the shipped threshold)",
        "",
        *_fairness_lines(evidence["fairness"]),
        "## Explanations: global importance (mean |SHAP value|)",
        "",
        *_table(evidence["explanations"]["global_importance"]),
        "## Served traffic against the champion (shadow or canary, `compare`)",
        "",
        *(
            [f"```json\n{json.dumps(evidence['serving_comparison'], indent=2)}\n```", ""]
            if evidence["serving_comparison"]
            else ["Not served beside the champion yet.", ""]
        ),
        "## Environment",
        "",
        *_table(evidence["environment"]),
        "## MLflow",
        "",
        *_table(evidence["mlflow"]),
        "## Approvals (audit log)",
        "",
        *(
            _table(
                {
                    f"{e['when']} {e['action']}": (
                        f"{e['who']}: v{e['from_version']} -> v{e['to_version']}, {e['why']}"
                    )
                    for e in evidence["approvals"]
                }
            )
            if evidence["approvals"]
            else ["No approval or gate event recorded yet.", ""]
        ),
        "## Model card",
        "",
        f"**Intended use.** {evidence['model_card']['intended_use']}",
        "",
        f"**Data.** {data.get('rows', '?')} labelled transactions from {data.get('start', '?')} "
        f"to {data.get('end', '?')}, fraud rate {data.get('fraud_rate', '?')}; versions above.",
        "",
        "**Metrics.** " + ", ".join(f"{k} {v:.4f}" for k, v in metrics["values"].items()) + ".",
        "",
        "**Limitations.**",
        "",
        *(f"- {item}" for item in evidence["model_card"]["limitations"]),
        "",
    ]
    return "\n".join(lines)


def render_model_card(evidence: dict[str, Any]) -> str:
    """The model card: use, data, metrics overall and by group, limitations, approvals."""
    model, data, card = evidence["model"], evidence["data"], evidence["model_card"]
    values = evidence["metrics"]["values"]
    headline = ("roc_auc", "pr_auc", "precision", "recall", "false_positive_rate", "threshold")
    approvals = [
        f"- {e['when']}: {e['action']} by {e['who']} (v{e['from_version']} -> "
        f"v{e['to_version']}): {e['why']}{_overridden(e)}"
        for e in evidence["approvals"]
    ]
    top = list(evidence["explanations"]["global_importance"].items())[:5]
    return "\n".join(
        [
            f"# Model card: {model['name']} version {model['version']}",
            "",
            f"Lineage id `{model['lineage_id']}`; aliases {', '.join(model['aliases']) or 'none'}; "
            f"release evidence in `evidence.md` beside this page.",
            "",
            "## Intended use",
            "",
            card["intended_use"],
            "",
            "## Training data",
            "",
            f"{data.get('rows', '?')} labelled transactions from {data.get('start', '?')} to "
            f"{data.get('end', '?')} (fraud rate {data.get('fraud_rate', '?')}); the model trained "
            "on the older part and was measured on the newest rows it never saw.",
            "",
            "## Metrics (held-out rows, at the shipped threshold)",
            "",
            *_table({name: values[name] for name in headline if name in values}),
            "## Metrics by group",
            "",
            *_fairness_lines(evidence["fairness"]),
            "## What moves the scores",
            "",
            *(f"- {name}: {value:.4f}" for name, value in top),
            "",
            "## Limitations",
            "",
            *(f"- {item}" for item in card["limitations"]),
            "",
            "## Approvals",
            "",
            *(approvals or ["- none yet: the version awaits a person's approval (`promote`)"]),
            "",
        ]
    )


def _fairness_lines(fairness: dict[str, Any]) -> list[str]:
    """One table per attribute: each group's rows, frauds, false-positive rate and recall."""
    if not fairness:
        return ["Not measured for this version.", ""]
    lines = []
    for attribute, measured in fairness.items():
        lines += [
            f"**{attribute}**",
            "",
            "| group | rows | frauds | false-positive rate | recall | judged |",
            "| --- | --- | --- | --- | --- | --- |",
            *(
                f"| {g['group']} | {g['rows']} | {g['frauds']} | "
                f"{g['false_positive_rate']:.3f} | {g['recall']:.3f} | {g['judged']} |"
                for g in measured["groups"]
            ),
            "",
        ]
        for metric in ("false_positive_rate", "recall"):
            gap = measured[f"{metric}_gap"]
            if gap is not None:
                lines += [
                    f"Largest {metric} gap: {gap['difference']:.3f} ({attribute}={gap['worst']} "
                    f"against {attribute}={gap['best']}).",
                    "",
                ]
    return lines


def _overridden(event: dict[str, Any]) -> str:
    overridden = event.get("overridden")
    return f"; overridden: {', '.join(overridden)}" if overridden else ""


def _json_or_none(value: dict[str, Any]) -> str:
    return json.dumps(value) if value else "none"


def _table(rows: dict[str, Any]) -> list[str]:
    """A two-column Markdown table (pipes in values escaped)."""
    escaped = {key: str(value).replace("|", "\\|") for key, value in rows.items()}
    body = [f"| {key} | {value} |" for key, value in escaped.items()]
    return ["| item | value |", "| --- | --- |", *body, ""]


def _utc(milliseconds: int | None) -> str:
    """An MLflow timestamp (ms since the epoch) as ISO 8601 UTC."""
    return datetime.fromtimestamp((milliseconds or 0) / 1000, timezone.utc).isoformat()
