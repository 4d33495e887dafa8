"""The champion from the MLflow registry into BentoML's model store, then into a Bento.

BentoML keeps its store under artifacts/bentoml in the project (`BENTOML_HOME`), so models and
Bentos never mix with another project's. The imported model carries the MLflow version and the
lineage tags; the Bento's labels repeat the version and the lineage id.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from {{ cookiecutter.package_name }}.model import registry, tags
from {{ cookiecutter.package_name }}.settings import Settings

MODEL_FILE = "model.ubj"
BENTOFILES = {False: "bentofile.yaml", True: "bentofile-gpu.yaml"}
SERVICE = "{{ cookiecutter.package_name }}.serving.service:FraudDetector"


def use_project_bentoml(settings: Settings) -> Path:
    """Point BentoML at the project's own store; call before bentoml is imported."""
    home = settings.resolve(settings.paths.artifacts_dir) / "bentoml"
    os.environ.setdefault("BENTOML_HOME", str(home))
    return Path(os.environ["BENTOML_HOME"])


@dataclass(frozen=True)
class ImportedModel:
    """The BentoML model made from one MLflow version."""

    tag: str
    version: str
    lineage_id: str


def staging_model_name(settings: Settings) -> str:
    """The BentoML model name of the staging version (shadow or canary beside the champion)."""
    return f"{settings.serving.model_name}_staging"


def import_version(settings: Settings, version: str, name: str) -> ImportedModel:
    """Copy one MLflow version's booster into BentoML's store with its version and lineage."""
    use_project_bentoml(settings)
    import bentoml

    trained = registry.load_version(settings, version)
    registered = registry.mlflow_client(settings).get_model_version(
        registry.model_name(settings), version
    )
    lineage_id = str(registered.run_id)
    labels = {"mlflow_version": version, "lineage_id": lineage_id}
    labels["git_commit"] = registered.tags.get(tags.GIT_COMMIT, "unknown")
    metadata = {"threshold": trained.threshold, "lineage": dict(registered.tags)}
    with bentoml.models.create(name, labels=labels, metadata=metadata) as model:
        Path(model.path_of(MODEL_FILE)).write_bytes(trained.to_bytes())
    return ImportedModel(str(model.tag), version, lineage_id)


def import_champion(settings: Settings) -> ImportedModel:
    """The champion into BentoML's store, as the model the service answers with."""
    version = registry.require_champion(settings)
    return import_version(settings, version, settings.serving.model_name)


def import_staging(settings: Settings) -> ImportedModel | None:
    """The staging version, if there is one, for `serving.staging_mode` (shadow or canary)."""
    version = registry.alias_version(settings, registry.STAGING)
    if version is None:
        return None
    return import_version(settings, version, staging_model_name(settings))


def build_bento(
    settings: Settings, imported: ImportedModel, *, gpu: bool, staging: ImportedModel | None = None
) -> str:
    """Build the Bento (CPU, or the CUDA image) with the model's version and lineage as labels.

    A staging model goes in beside the champion: the bentofile is extended with its tag.
    """
    import bentoml
    import yaml

    bentofile = settings.project_root / BENTOFILES[gpu]
    labels = {"mlflow_version": imported.version, "lineage_id": imported.lineage_id}
    if staging is None:
        bento = bentoml.bentos.build_bentofile(
            str(bentofile), build_ctx=str(settings.project_root), labels=labels
        )
        return str(bento.tag)
    config = yaml.safe_load(bentofile.read_text())
    config["models"] = [*config.get("models", []), staging.tag]
    labels["staging_version"] = staging.version
    with tempfile.TemporaryDirectory() as folder:
        extended = Path(folder) / bentofile.name
        extended.write_text(yaml.safe_dump(config))
        bento = bentoml.bentos.build_bentofile(
            str(extended), build_ctx=str(settings.project_root), labels=labels
        )
    return str(bento.tag)


def export_bento(settings: Settings, tag: str, folder: Path) -> Path:
    """Write the Bento, model included, as one `.bento` archive."""
    use_project_bentoml(settings)
    import bentoml

    folder.mkdir(parents=True, exist_ok=True)
    name = tag.replace(":", "-")
    return Path(bentoml.bentos.export_bento(tag, str(folder / f"{name}.bento")))


def newest_bento(settings: Settings) -> str:
    """The tag of the most recently built Bento of the service, the one `bento-export` ships."""
    use_project_bentoml(settings)
    import bentoml

    try:
        bentos = bentoml.list(settings.serving.model_name)
    except bentoml.exceptions.NotFound:  # BentoML's answer for a store without this Bento
        bentos = []
    if not bentos:
        raise RuntimeError("no Bento yet: run `make bento` first")
    return str(max(bentos, key=lambda bento: bento.info.creation_time).tag)


def serve_command(settings: Settings, port: int) -> list[str]:
    """The `bentoml serve` command of the service on 127.0.0.1, on the project's BentoML store.

    It runs from the project root; the store location reaches it through the environment.
    """
    use_project_bentoml(settings)
    bentoml = str(Path(sys.executable).parent / "bentoml")
    return [bentoml, "serve", SERVICE, "--host", "127.0.0.1", "--port", str(port)]
