"""One typed settings model, read from params.yaml and overridden by the environment.

Nothing else in the project reads params.yaml: every tunable is declared here once, with its
type and bounds, so a typo fails at start-up instead of halfway through a pipeline.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The file types a transactions source may have, by the end of its name.
SOURCE_FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
PARAMS_FILE = "params.yaml"
MIN_API_KEY_LENGTH = 16
{%- if cookiecutter.offline_store == "spark" %}
# local, local[N], local[*], local[N,F], spark://HOST:PORT[,HOST:PORT],
# k8s://[https://]HOST[:PORT] or yarn
SPARK_MASTER_PATTERN = (
    r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/:,]+:\d+(,[^\s/:,]+:\d+)*"
    r"|k8s://(https?://)?[^\s/:]+(:\d+)?/?|yarn)$"
)
{%- endif %}


class Section(BaseModel):
    """A params.yaml section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PathSettings(Section):
    """Project folders, relative to the project root unless absolute."""

    data_dir: Path = Path("data")
    reports_dir: Path = Path("reports")
    artifacts_dir: Path = Path("artifacts")


class StorageSettings(Section):
    """Remote storage shared by the DVC remote, the ZenML artifact store and MLflow artifacts."""

    kind: Literal["local", "s3", "gcs"] = "{{ cookiecutter.remote_storage }}"
    remote_url: str = Field(min_length=1)

    @model_validator(mode="after")
    def _url_matches_kind(self) -> StorageSettings:
        schemes = {"s3": "s3://", "gcs": "gs://"}
        expected = schemes.get(self.kind)
        if expected and not self.remote_url.startswith(expected):
            raise ValueError(f"remote_url must start with {expected} when kind is {self.kind}")
        if self.kind == "local" and "://" in self.remote_url:
            raise ValueError("remote_url must be a folder path when kind is local")
        return self


class SourceMapping(Section):
    """Which column of a team's own transactions file holds each project column, and how to read it.

    A column set to null is absent from the source and takes its documented default: transaction
    ids numbered in file order, merchant category and channel `other`, country `XX`.
    """

    transaction_id: str | None = None
    customer_id: str = "customer_id"
    event_timestamp: str = "event_timestamp"
    # A strftime format such as "%d/%m/%Y %H:%M:%S", "unix" (seconds) or "unix_ms"; null: ISO 8601.
    time_format: str | None = None
    # The zone of times written without an offset; times with an offset keep theirs. Stored as UTC.
    time_zone: str = "UTC"
    amount: str = "amount"
    merchant_category: str | None = "merchant_category"
    channel: str | None = "channel"
    country: str | None = "country"
    label: str = "is_fraud"
    # Source value -> project value; a value neither listed nor a project value becomes `other`.
    merchant_categories: dict[str, str] = Field(default_factory=dict)
    channels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _zone_exists(self) -> SourceMapping:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time_zone {self.time_zone!r} (use e.g. Europe/Paris)"
            ) from None
        return self


class DataSettings(Section):
    """Where the transactions come from: the synthetic generator or a team's own file.

    `source` is `synthetic` or a CSV or Parquet file: a path (relative to the project root) or an
    s3:// or gs:// URL, read through `mapping`. The generator's knobs apply to `synthetic` only.
    """

    source: str = Field(default="synthetic", min_length=1)
    mapping: SourceMapping = SourceMapping()
    n_customers: int = Field(default=500, ge=10)
    n_transactions: int = Field(default=20_000, ge=100)
    start: date = date(2026, 1, 1)
    days: int = Field(default=60, ge=1)
    fraud_rate: float = Field(default=0.02, gt=0, lt=0.5)
    drift: bool = False

    @property
    def synthetic(self) -> bool:
        """True when the generator, not a file, provides the transactions."""
        return self.source == "synthetic"

    @property
    def source_suffix(self) -> str:
        """The end of the source's name that says its format, e.g. `.csv.gz`."""
        name = self.source.lower()
        return next(suffix for suffix in SOURCE_FORMATS if name.endswith(suffix))

    @property
    def source_format(self) -> str:
        """`csv` or `parquet`, from the end of the source's name."""
        return SOURCE_FORMATS[self.source_suffix]

    @model_validator(mode="after")
    def _source_is_readable(self) -> DataSettings:
        name = self.source.lower()
        if not self.synthetic and not name.endswith(tuple(SOURCE_FORMATS)):
            raise ValueError(
                f"source {self.source!r} must be `synthetic` or a file ending in "
                + ", ".join(SOURCE_FORMATS)
            )
        if "://" in name and not name.startswith(("s3://", "gs://", "https://", "http://")):
            raise ValueError(
                f"source {self.source!r}: use a path or an s3://, gs:// or http(s) URL"
            )
        return self


class FeatureSettings(Section):
    """Per-customer aggregates: window lengths, what counts as night, how long values stay valid."""

    windows_hours: tuple[int, ...] = Field(default=(1, 24, 168), min_length=1)
    night_hours: tuple[int, int] = (0, 6)
    ttl_days: int = Field(default=365, ge=1)

    @model_validator(mode="after")
    def _windows_fit_the_ttl(self) -> FeatureSettings:
        if max(self.windows_hours) > self.ttl_days * 24:
            raise ValueError("the longest window must not exceed ttl_days")
        if not 0 <= self.night_hours[0] < self.night_hours[1] <= 24:
            raise ValueError("night_hours must be [start, end) with 0 <= start < end <= 24")
        return self


{% if cookiecutter.offline_store == "spark" -%}
class SparkSettings(Section):
    """The Spark session that builds the feature table and answers Feast's offline store.

    `local[*]` runs Spark inside the project's process on every core; a cluster is a master URL
    away (a standalone master or Kubernetes), with `conf` for what the cluster needs.
    """

    master: str = Field(default="local[*]", pattern=SPARK_MASTER_PATTERN)
    conf: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _master_in_one_place(self) -> SparkSettings:
        if "spark.master" in self.conf:
            raise ValueError("set the master in feast.spark.master, not in feast.spark.conf")
        return self


{% endif -%}
class FeastSettings(Section):
    """Where the Feast repository lives and which feature service the model uses."""

    repo_path: Path = Path("feature_repo")
    feature_service: str = "fraud_model_v1"
    redis_connection_string: str = "localhost:6379"
{%- if cookiecutter.offline_store == "spark" %}
    spark: SparkSettings = SparkSettings()
{%- endif %}


class ModelSettings(Section):
    """XGBoost parameters and how the data is split for early stopping and evaluation."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    n_estimators: int = Field(default=400, ge=1)
    max_depth: int = Field(default=5, ge=1)
    learning_rate: float = Field(default=0.08, gt=0, le=1)
    subsample: float = Field(default=0.9, gt=0, le=1)
    colsample_bytree: float = Field(default=0.9, gt=0, le=1)
    min_child_weight: float = Field(default=2.0, ge=0)
    early_stopping_rounds: int = Field(default=40, ge=1)
    validation_fraction: float = Field(default=0.2, gt=0, lt=1)
    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    target_fpr: float = Field(default=0.05, gt=0, lt=1)


class FairnessSettings(Section):
    """How far apart customer groups may be, at the shipped threshold, before the gate refuses."""

    groups: list[str] = Field(default_factory=lambda: ["age_band", "channel"], min_length=1)
    max_fpr_difference: float = Field(default=0.08, ge=0, le=1)
    max_recall_difference: float = Field(default=0.35, ge=0, le=1)
    min_group_rows: int = Field(default=100, ge=1)  # smaller groups are reported, not judged
    min_group_frauds: int = Field(default=10, ge=1)  # for recall, which needs frauds to measure
    min_z: float = Field(default=3.0, ge=0)  # a gap narrower in standard errors is noise


class GateSettings(Section):
    """What a new model must achieve to become champion."""

    min_roc_auc: float = Field(default=0.75, ge=0, le=1)
    min_recall: float = Field(default=0.3, ge=0, le=1)
    max_regression: float = Field(default=0.01, ge=0, le=1)
    min_comparison_rows: int = Field(default=200, ge=1)
    fairness: FairnessSettings = FairnessSettings()


class GovernanceSettings(Section):
    """Who moves the champion: the gate alone, or a named person after it."""

    require_approval: bool = True  # the gate stages a version; `promote` makes it champion
    distinct_approver: bool = False  # the approver may not be who ran the training


class QualitySettings(Section):
    """The data-quality gate before training: what a labelled batch must look like."""

    min_rows: int = Field(default=1000, ge=1)
    max_missing_share: float = Field(default=0.0, ge=0, le=1)
    min_fraud_rate: float = Field(default=0.002, ge=0, le=1)
    max_fraud_rate: float = Field(default=0.3, ge=0, le=1)

    @model_validator(mode="after")
    def _rates_are_ordered(self) -> QualitySettings:
        if self.min_fraud_rate > self.max_fraud_rate:
            raise ValueError("min_fraud_rate must not exceed max_fraud_rate")
        return self


class MonitoringSettings(Section):
    """Drift detection against the champion's training set, and when it starts a retraining.

    `schedule` is when Kubeflow runs the monitoring pipeline: KFP's cron, six fields with the
    seconds first (`0 0 6 * * *` is 06:00 every day).
    """

    numerical_drift_threshold: float = Field(default=0.2, gt=0)
    categorical_drift_threshold: float = Field(default=0.1, gt=0, le=1)
    drift_share_threshold: float = Field(default=0.25, gt=0, le=1)
    score_drift_threshold: float = Field(default=0.2, gt=0)
    min_rows: int = Field(default=200, ge=10)
    auto_retrain: bool = True
    schedule: str = Field(default="0 0 6 * * *", pattern=r"^\S+( \S+){5}$")


class ServingSettings(Section):
    """The online service: its model, device, workers, limits, log, staging model and API key."""

    model_name: str = Field(default="{{ cookiecutter.package_name }}", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    workers: int = Field(default=1, ge=1, le=64)
    max_batch_size: int = Field(default=256, ge=1, le=10_000)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_clock_skew_s: int = Field(default=300, ge=0)
    api_key: SecretStr | None = None
    explain_top_k: int = Field(default=3, ge=1, le=50)
    staging_mode: Literal["off", "shadow", "canary"] = "off"
    canary_percent: float = Field(default=10.0, ge=0, le=100)
    prediction_log: Path = Path("reports/prediction_log.jsonl")
    prediction_log_sink: Literal["file", "stdout"] = "file"
    prediction_log_max_bytes: int = Field(default=50_000_000, ge=10_000)
    prediction_log_backups: int = Field(default=5, ge=1)

    def key(self) -> str | None:
        """The API key requests must send, or None for no key; a blank or short key is refused.

        An empty `.env` line or Kubernetes Secret would otherwise turn authentication off.
        """
        if self.api_key is None:
            return None
        key = self.api_key.get_secret_value()
        if len(key.strip()) < MIN_API_KEY_LENGTH:
            raise ValueError(
                f"{ENV_PREFIX}SERVING__API_KEY is {'blank' if not key.strip() else 'too short'}: "
                f"set at least {MIN_API_KEY_LENGTH} characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(24))'), or unset it to serve without a key"
            )
        return key


class KubeflowSettings(Section):
    """Running the pipelines on Kubeflow; endpoints live in .env, resources in configs/kubeflow/."""

    gpu: bool = False
    build_dir: Path = Path("build/kfp")
    training_timeout_s: int = Field(default=7200, gt=0)


class TrackingSettings(Section):
    """MLflow tracking store, artifact root and experiment."""

    tracking_uri: str = "sqlite:///artifacts/mlflow/mlflow.db"
    artifact_root: Path = Path("artifacts/mlflow/artifacts")
    experiment_name: str = "{{ cookiecutter.package_name }}"

    def resolved_uri(self, root: Path) -> str:
        """The tracking URI with a relative SQLite path made absolute (MLflow needs it so)."""
        prefix = "sqlite:///"
        if self.tracking_uri.startswith(prefix) and not self.tracking_uri.startswith(prefix + "/"):
            return prefix + str(root / self.tracking_uri.removeprefix(prefix))
        return self.tracking_uri


class Workspace(BaseSettings):
    """Where things live: folders, storage, Feast, MLflow and the served model.

    The process that does the work reads these from params.yaml and its own environment (a pod
    reads the pod's), so they never travel as run parameters. Build it with `load_workspace()`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        frozen=True,
    )

    project_root: Path = Field(default_factory=Path.cwd, exclude=True)
    paths: PathSettings = PathSettings()
    storage: StorageSettings
    feast: FeastSettings = FeastSettings()
    tracking: TrackingSettings = TrackingSettings()
    serving: ServingSettings = ServingSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the values passed in, which come from params.yaml."""
        return env_settings, _ProjectDotEnv(dotenv_settings), init_settings

    def resolve(self, path: Path) -> Path:
        """An absolute path for a project-relative one, independent of the working directory."""
        return path if path.is_absolute() else self.project_root / path


class Settings(Workspace):
    """Every tunable: the workspace plus the decisions a run makes. Build it with `load_settings()`.

    Only entry points (the CLI, the local runner, the Kubeflow compile) load it; they hand each
    pipeline step its section as a step parameter, so a run shows and records what it used.
    """

    seed: int = Field(default=42, ge=0)
    data: DataSettings = DataSettings()
    features: FeatureSettings = FeatureSettings()
    model: ModelSettings = ModelSettings()
    gate: GateSettings = GateSettings()
    governance: GovernanceSettings = GovernanceSettings()
    quality: QualitySettings = QualitySettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    kubeflow: KubeflowSettings = KubeflowSettings()

    def with_overrides(self, assignments: list[str]) -> Settings:
        """A copy with `section.key=value` assignments applied (values parsed as YAML), validated.

        This is how one run changes a decision without editing params.yaml.
        """
        values = self.model_dump()
        for assignment in assignments:
            path, separator, text = assignment.partition("=")
            keys = path.strip().split(".")
            if not separator or not all(keys):
                raise ValueError(f"override {assignment!r}: write section.key=value")
            node = values
            for key in keys[:-1]:
                if not isinstance(node.get(key), dict):
                    raise ValueError(f"override {assignment!r}: {key!r} is not a settings section")
                node = node[key]
            if keys[-1] not in node:
                raise ValueError(f"override {assignment!r}: unknown setting {path.strip()!r}")
            node[keys[-1]] = yaml.safe_load(text)
        return type(self).model_validate({**values, "project_root": self.project_root})


class _ProjectDotEnv(PydanticBaseSettingsSource):
    """The project's own keys of .env; other tools' variables there (e.g. KFP_HOST) are theirs.

    A misspelt key with the project's prefix still fails validation; a decision's key is left to
    `Settings` when a `Workspace` is read.
    """

    def __init__(self, source: PydanticBaseSettingsSource) -> None:
        super().__init__(source.settings_cls)
        self.source = source

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` delegates to the wrapped source."""
        return self.source.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        """The wrapped source's values, minus keys without the project's prefix."""
        fields = self.settings_cls.model_fields
        return {
            key: value
            for key, value in self.source().items()
            if key in fields
            or (
                key.upper().startswith(ENV_PREFIX)
                and _section(key) not in _DECISIONS - fields.keys()
            )
        }


def _section(key: str) -> str:
    """The top-level setting a prefixed variable names (`X_GATE__MIN_RECALL` -> `gate`)."""
    return key.upper().removeprefix(ENV_PREFIX).split("__")[0].lower()


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder, from `start` upwards, that holds params.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_FILE).is_file():
            return folder
    raise FileNotFoundError(f"no {PARAMS_FILE} in {here} or above: run from inside the project")


def load_settings(project_root: Path | None = None) -> Settings:
    """Read params.yaml of the project, apply environment overrides and validate everything."""
    root = project_root or find_project_root()
    return Settings(project_root=root, _env_file=root / ".env", **_params(root))


def load_workspace(project_root: Path | None = None) -> Workspace:
    """Read only where things live (for a pipeline step, which gets its decisions as parameters)."""
    root = project_root or find_project_root()
    values = {key: value for key, value in _params(root).items() if key not in _DECISIONS}
    return Workspace(project_root=root, _env_file=root / ".env", **values)


def _params(root: Path) -> dict[str, Any]:
    values: Any = yaml.safe_load((root / PARAMS_FILE).read_text()) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{root / PARAMS_FILE} must hold a mapping of settings")
    return values


_DECISIONS = Settings.model_fields.keys() - Workspace.model_fields.keys()
