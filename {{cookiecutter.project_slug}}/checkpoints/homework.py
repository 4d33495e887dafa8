"""Weekly homework: questions you answer from your own project, checked without giving answers.

`make homework WEEK=N` writes homework/week-N.yaml with the week's questions the first time.
Compute each answer from your project (the pages of that week say where things live), write it
there with a few sentences for the reflection, and run it again: it says which answers are off,
never what they should be. The data is seeded and the stack pinned, so an answer is stable for
the project as it is; after later weeks change the project, an earlier week's answers may move.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.governance.lineage import dvc_data_hashes
from {{ cookiecutter.package_name }}.settings import Settings, load_settings

MIN_REFLECTION_WORDS = 30
# The stated parameter change of week 3's last question: one tree of depth one.
WEAK_MODEL = ("model.max_depth=1", "model.n_estimators=1")
Answer = float | str


@dataclass(frozen=True)
class Question:
    """One question: its text, where to look, and how the checker computes the answer."""

    key: str
    text: str
    where: str
    answer: Callable[[Settings], Answer]
    tolerance: float = 0.0  # numbers: how far off an answer may be; text: must match exactly


def _transactions(settings: Settings) -> pd.DataFrame:
    return pd.read_parquet(DataFiles.of(settings).transactions)


def _features(settings: Settings) -> pd.DataFrame:
    return pd.read_parquet(DataFiles.of(settings).features)


def _dvc_md5_prefix(settings: Settings) -> str:
    path = DataFiles.of(settings).transactions.relative_to(settings.project_root).as_posix()
    return dvc_data_hashes(settings.project_root).get(f"dvc:{path}", "")[:8]


def _last_state(settings: Settings, column: str) -> float:
    customer = _features(settings).query("customer_id == 1").sort_values("event_timestamp")
    return float(customer[column].iloc[-1])


def _service_feature_count(settings: Settings) -> float:
    from {{ cookiecutter.package_name }}.features.store import open_store

    service = open_store(settings).get_feature_service(settings.feast.feature_service)
    return float(sum(len(view.features) for view in service.feature_view_projections))


def _champion_run(settings: Settings) -> Any:
    from {{ cookiecutter.package_name }}.model import registry

    client = registry.mlflow_client(settings)
    version = registry.require_champion(settings)
    return client.get_run(
        str(client.get_model_version(registry.model_name(settings), version).run_id)
    )


def _champion_tag(settings: Settings, key: str) -> str:
    from {{ cookiecutter.package_name }}.model import registry

    version = registry.require_champion(settings)
    return registry.version_record(settings, version).tags.get(key, "")


def _champion_version(settings: Settings) -> float:
    from {{ cookiecutter.package_name }}.model import registry

    return float(registry.require_champion(settings))


def _training_runs(settings: Settings) -> float:
    from {{ cookiecutter.package_name }}.model import registry

    return float(len(registry.training_runs(settings)))


def _metric_after(settings: Settings, overrides: tuple[str, ...], metric: str) -> float:
    """A metric of the newest version trained with exactly these `--set` overrides."""
    from {{ cookiecutter.package_name }}.model import registry, tags

    trained = [
        info
        for info in registry.list_versions(settings)
        if sorted(json.loads(info.tags.get(tags.RUN_OVERRIDES, "[]"))) == sorted(overrides)
    ]
    if not trained:
        raise LookupError(f"no version was trained with --set {' --set '.join(overrides)}")
    return float(max(trained, key=lambda info: int(info.version)).metrics[metric])


def _events(settings: Settings, action: str) -> float:
    from {{ cookiecutter.package_name }}.governance.promotion import history

    return float(sum(event.action == action for event in history(settings)))


def _log_entries(settings: Settings) -> list[dict[str, Any]]:
    from {{ cookiecutter.package_name }}.model import registry
    from {{ cookiecutter.package_name }}.serving.prediction_log import read_entries

    champion = registry.require_champion(settings)
    log = settings.resolve(settings.serving.prediction_log)
    return [entry for entry in read_entries(log) if entry["model_version"] == champion]


def _training_spec(settings: Settings) -> dict[str, Any]:
    spec_file = settings.resolve(settings.kubeflow.build_dir) / "training.yaml"
    spec: dict[str, Any] = next(yaml.safe_load_all(spec_file.read_text()))
    return spec


def _training_tasks(settings: Settings) -> float:
    return float(len(_training_spec(settings)["root"]["dag"]["tasks"]))


def _training_spec_executor(settings: Settings, step: str) -> dict[str, Any]:
    executor: dict[str, Any] = _training_spec(settings)["deploymentSpec"]["executors"][
        f"exec-{step}"
    ]
    return executor


def _newest_monitoring(settings: Settings) -> dict[str, Any]:
    folder = settings.resolve(settings.paths.reports_dir) / "monitoring"
    newest = max(folder.glob("*/summary.json"), key=lambda path: path.parent.name)
    summary: dict[str, Any] = json.loads(newest.read_text())
    return summary


def _trigger_drift_share(settings: Settings) -> float:
    trigger = json.loads(_champion_tag(settings, "retraining_trigger") or "{}")
    return float(trigger["drift_share"])


def _champion_evidence(settings: Settings) -> dict[str, Any]:
    from {{ cookiecutter.package_name }}.governance.evidence import evidence_folder
    from {{ cookiecutter.package_name }}.model import registry

    folder = evidence_folder(settings, registry.require_champion(settings))
    record: dict[str, Any] = json.loads((folder / "evidence.json").read_text())
    return record


QUESTIONS: dict[int, tuple[Question, ...]] = {
    1: (
        Question(
            "transactions",
            "How many rows does data/raw/transactions.parquet hold?",
            "the raw table (pandas.read_parquet)",
            lambda s: float(len(_transactions(s))),
        ),
        Question(
            "fraud_share",
            "What share of those transactions is fraud (is_fraud = 1), to 3 decimals?",
            "the raw table's label column",
            lambda s: float(_transactions(s)["is_fraud"].mean()),
            tolerance=0.0005,
        ),
        Question(
            "customers_seen",
            "How many distinct customers have at least one transaction?",
            "the raw table's customer_id column",
            lambda s: float(_transactions(s)["customer_id"].nunique()),
        ),
        Question(
            "md5_prefix",
            "What are the first 8 characters of the md5 that dvc.lock records for "
            "data/raw/transactions.parquet?",
            "dvc.lock, stage raw",
            _dvc_md5_prefix,
        ),
    ),
    2: (
        Question(
            "feature_rows",
            "How many rows does the feature table data/features/customer_features.parquet hold?",
            "the feature table",
            lambda s: float(len(_features(s))),
        ),
        Question(
            "service_features",
            "How many features does the model's Feast feature service serve?",
            "feature_repo/definitions.py, or `feast feature-services describe` in feature_repo/",
            _service_feature_count,
        ),
        Question(
            "customer_1_txn_count_24h",
            "In customer 1's newest state in the feature table, what is txn_count_24h?",
            "the feature table, rows of customer_id 1 ordered by event_timestamp",
            lambda s: _last_state(s, "txn_count_24h"),
        ),
        Question(
            "customer_1_avg_amount",
            "In the same state, what is avg_amount, to 2 decimals?",
            "the same row",
            lambda s: _last_state(s, "avg_amount"),
            tolerance=0.005,
        ),
    ),
    3: (
        Question(
            "training_runs",
            "How many runs does the MLflow training experiment hold (any status)?",
            "`make mlflow-ui`, the training experiment",
            _training_runs,
        ),
        Question(
            "champion_roc_auc",
            "What ROC-AUC did the champion's run log, to 3 decimals?",
            "the champion's run in MLflow, metrics",
            lambda s: float(_champion_run(s).data.metrics["roc_auc"]),
            tolerance=0.0005,
        ),
        Question(
            "champion_boosting_rounds",
            "How many boosting rounds did the champion keep after early stopping?",
            "the champion's run in MLflow, params",
            lambda s: float(_champion_run(s).data.params["boosting_rounds"]),
        ),
        Question(
            "weak_model_recall",
            f"Train once with `--set {' --set '.join(WEAK_MODEL)}` (week 4, exercise 1). What "
            "recall did that version reach at its shipped threshold, to 3 decimals?",
            "`make models` (or that version's run in MLflow, metrics)",
            lambda s: _metric_after(s, WEAK_MODEL, "recall"),
            tolerance=0.0005,
        ),
    ),
    4: (
        Question(
            "champion",
            "Which version is the champion now?",
            "`make models`",
            _champion_version,
        ),
        Question(
            "rejections",
            "How many times has the gate rejected a challenger, by the registry's history?",
            "`.venv/bin/<your project> audit`",
            lambda s: _events(s, "reject"),
        ),
        Question(
            "rollbacks",
            "How many rollbacks does the history record?",
            "the same history",
            lambda s: _events(s, "rollback"),
        ),
    ),
    5: (
        Question(
            "champion_answers",
            "How many answers of the champion does the prediction log hold?",
            "reports/prediction_log.jsonl, model_version",
            lambda s: float(len(_log_entries(s))),
        ),
        Question(
            "unknown_customer_answers",
            "How many of them were for a customer the online store did not know?",
            "the same entries, features_missing",
            lambda s: float(sum(bool(e.get("features_missing")) for e in _log_entries(s))),
        ),
        Question(
            "champion_threshold",
            "What decision threshold does the champion ship with, to 4 decimals?",
            "the champion's run in MLflow, params (or any of its answers)",
            lambda s: float(_champion_run(s).data.params["threshold"]),
            tolerance=0.00005,
        ),
    ),
    6: (
        Question(
            "training_tasks",
            "How many tasks does the compiled training pipeline build/kfp/training.yaml run?",
            "root.dag.tasks of the spec",
            _training_tasks,
        ),
        Question(
            "join_memory",
            "What memory request does the point-in-time join's task carry (as written there)?",
            "deploymentSpec.executors.exec-build-training-set",
            lambda s: str(
                _training_spec_executor(s, "build-training-set")["container"]["resources"].get(
                    "resourceMemoryRequest", ""
                )
            ),
        ),
        Question(
            "train_cpus",
            "How many CPUs does train_model's task request?",
            "deploymentSpec.executors.exec-train-model",
            lambda s: float(
                _training_spec_executor(s, "train-model")["container"]["resources"].get(
                    "resourceCpuRequest", 0
                )
            ),
        ),
    ),
    7: (
        Question(
            "drift_share",
            "In your newest monitoring run, what share of the model's inputs drifted, to 3 "
            "decimals?",
            "reports/monitoring/<newest>/summary.json",
            lambda s: float(_newest_monitoring(s)["drift_share"]),
            tolerance=0.0005,
        ),
        Question(
            "drifted_inputs",
            "How many inputs did it find drifted?",
            "the same summary",
            lambda s: float(len(_newest_monitoring(s)["drifted_features"])),
        ),
        Question(
            "failed_tests",
            "How many of Evidently's tests failed in it?",
            "the same summary",
            lambda s: float(len(_newest_monitoring(s)["failed_tests"])),
        ),
    ),
    8: (
        Question(
            "evidence_sections",
            "How many top-level sections does the champion's evidence.json have?",
            "reports/releases/v<champion>/evidence.json",
            lambda s: float(len(_champion_evidence(s))),
        ),
        Question(
            "champion_commit",
            "What are the first 7 characters of the git commit the champion was trained from?",
            "the evidence's code section, or the version's git_commit tag",
            lambda s: _champion_tag(s, "git_commit")[:7],
        ),
        Question(
            "trigger_drift_share",
            "What drift share does the champion's retraining trigger record, to 3 decimals?",
            "the evidence's drift section, retraining trigger",
            _trigger_drift_share,
            tolerance=0.0005,
        ),
    ),
}

REFLECTIONS = {
    1: "Which file in the project would you check first if a model's results changed overnight, "
    "and what would tell you whether the data or the code moved?",
    2: "Name one feature a fraudster could manipulate, and how the model would behave if they did.",
    3: "Which parameter change of your experiments helped or hurt, and how sure are you that the "
    "difference is more than noise?",
    4: "Your gate rule: who should be allowed to change it, and what evidence should they bring?",
    5: "A customer the online store does not know gets a score anyway. Is that the right "
    "behaviour for your bank, and what would you change?",
    6: "What would happen to training if the point-in-time join's memory request were too small "
    "on the cluster, and how would you find out?",
    7: "Which drift alerts would you want a person to see, and which should retrain silently?",
    8: "What would an auditor ask about your champion that the evidence page cannot answer yet?",
}


def homework_file(settings: Settings, week: int) -> Path:
    """Where the learner writes the week's answers."""
    return settings.project_root / "homework" / f"week-{week}.yaml"


def blank_sheet(week: int) -> str:
    """The week's questions as a YAML file to fill in."""
    lines = [
        f"# Week {week} homework: compute each answer from your own project and replace the null.",
        f"# `make homework WEEK={week}` checks them; it says which are off, never the value.",
        "",
    ]
    for question in QUESTIONS[week]:
        lines += [
            f"# {question.text}",
            f"#   (where to look: {question.where})",
            f"{question.key}: null",
            "",
        ]
    lines += [
        f"# Reflection ({MIN_REFLECTION_WORDS} words or more): {REFLECTIONS[week]}",
        'reflection: ""',
    ]
    return "\n".join(lines) + "\n"


def grade(settings: Settings, week: int, answers: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(key, right, what to say) per question and for the reflection; values never shown."""
    verdicts = []
    for question in QUESTIONS[week]:
        given = answers.get(question.key)
        if given is None or given == "":
            verdicts.append((question.key, False, "not answered yet"))
            continue
        try:
            expected = question.answer(settings)
        except (FileNotFoundError, LookupError, RuntimeError, ValueError) as missing:
            verdicts.append(
                (question.key, False, f"cannot be checked yet ({missing}): do the week first")
            )
            continue
        if isinstance(expected, str):
            right = str(given).strip().lower() == expected.lower()
        else:
            try:
                right = abs(float(given) - expected) <= question.tolerance
            except (TypeError, ValueError):
                right = False
        verdicts.append(
            (question.key, right, "right" if right else f"off: look again at {question.where}")
        )
    words = len(str(answers.get("reflection") or "").split())
    verdicts.append(
        (
            "reflection",
            words >= MIN_REFLECTION_WORDS,
            f"{words} words"
            + ("" if words >= MIN_REFLECTION_WORDS else f", write {MIN_REFLECTION_WORDS} or more"),
        )
    )
    return verdicts


def main(arguments: list[str]) -> int:
    """`make homework WEEK=N`: write the sheet the first time, check it afterwards."""
    if len(arguments) != 1 or not arguments[0].isdigit() or int(arguments[0]) not in QUESTIONS:
        print("WEEK must be 1..8, e.g. make homework WEEK=3")
        return 2
    week, settings = int(arguments[0]), load_settings()
    sheet = homework_file(settings, week)
    if not sheet.exists():
        sheet.parent.mkdir(exist_ok=True)
        sheet.write_text(blank_sheet(week))
        where = sheet.relative_to(settings.project_root)
        print(f"wrote {where}: answer its questions there, then run this again")
        return 1
    answers = yaml.safe_load(sheet.read_text()) or {}
    verdicts = grade(settings, week, answers)
    for key, right, said in verdicts:
        print(f"{'ok ' if right else 'NO '} {key}: {said}")
    done = sum(right for _, right, _ in verdicts)
    print(f"week {week} homework: {done} of {len(verdicts)} right")
    return 0 if done == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
