"""The MLflow tag keys a model version and its run carry: written and read through these names.

The training steps and the registry write them; the release evidence, the model list and the
governance records read them back.
"""

from __future__ import annotations

# On the model version
METRICS = "metrics"
GATE = "gate"
GATE_THRESHOLDS = "gate_thresholds"
FAIRNESS = "fairness"  # false-positive rate and recall per customer group, and the gaps
COMPARED_WITH_CHAMPION = "compared_with_champion"
TRAINING_DATA = "training_data"
TRAINED_UNTIL = "trained_until"  # the newest row the model trained on (an ISO time, UTC)
FEATURE_SERVICE = "feast_feature_service"
FEATURE_SERVICE_DEFINITION = "feature_service_definition"
ENVIRONMENT = "environment"
RETRAINING_TRIGGER = "retraining_trigger"
RUN_OVERRIDES = "run_overrides"
LAST_MONITORING = "last_monitoring"
RETRAINING_REQUEST = "retraining_request"
EVIDENCE = "evidence"
SERVING_COMPARISON = "serving_comparison"  # shadow or canary traffic against the champion
MLFLOW_RUN_ID = "mlflow_run_id"
GIT_COMMIT = "git_commit"
GIT_DIRTY = "git_dirty"
LOCK_SHA256 = "requirements_lock_sha256"
DVC_PREFIX = "dvc:"
AUDIT_PREFIX = "audit."

# On the training run
QUALITY_GATE = "quality_gate"
GLOBAL_IMPORTANCE = "global_importance"  # mean |SHAP value| per feature on held-out rows
