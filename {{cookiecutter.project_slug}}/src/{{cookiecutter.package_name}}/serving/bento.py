"""The champion from the MLflow registry into BentoML's model store, then into a Bento.

BentoML keeps its store under artifacts/bentoml in the project (`BENTOML_HOME`), so models and
Bentos never mix with another project's. The imported model carries the MLflow version and the
lineage tags; the Bento's labels repeat the version and the lineage id.
"""

from __future__ import annotations

import os
import sys
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


def import_champion(settings: Settings) -> ImportedModel:
    """Copy the champion's booster into BentoML's store with its version and lineage."""
    use_project_bentoml(settings)
    import bentoml

    version = registry.require_champion(settings)
    trained = registry.load_version(settings, version)
    registered = registry.mlflow_client(settings).get_model_version(
        registry.model_name(settings), version
    )
    lineage_id = str(registered.run_id)
    labels = {"mlflow_version": version, "lineage_id": lineage_id}
    labels["git_commit"] = registered.tags.get(tags.GIT_COMMIT, "unknown")
    metadata = {"threshold": trained.threshold, "lineage": dict(registered.tags)}
    with bentoml.models.create(
        settings.serving.model_name, labels=labels, metadata=metadata
    ) as model:
        Path(model.path_of(MODEL_FILE)).write_bytes(trained.to_bytes())
    return ImportedModel(str(model.tag), version, lineage_id)


def build_bento(settings: Settings, imported: ImportedModel, *, gpu: bool) -> str:
    """Build the Bento (CPU, or the CUDA image) with the model's version and lineage as labels."""
    import bentoml

    bento = bentoml.bentos.build_bentofile(
        str(settings.project_root / BENTOFILES[gpu]),
        build_ctx=str(settings.project_root),
        labels={"mlflow_version": imported.version, "lineage_id": imported.lineage_id},
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
