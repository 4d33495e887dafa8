"""The Kubeflow stack from its recipe in configs/kubeflow/, and the pipelines compiled for it.

The recipe and the run configurations are YAML with `${VAR}` and `${VAR:-default}` placeholders,
read from the environment or `.env`. A missing variable stops everything with one line naming it.
With none of the cluster variables set, compiling uses a sandbox instead: an S3 API (moto) on
127.0.0.1 and placeholder endpoints, enough to compile and validate the specs on any machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

from {{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator import FLAVOR
from {{ cookiecutter.package_name }}.orchestration.local_stack import ensure_local_stack, use_project_zenml
from {{ cookiecutter.package_name }}.settings import Settings

CONFIGS = Path("configs/kubeflow")
PIPELINES = ("training", "batch_inference", "monitoring")
FLAVOR_SOURCE = (
    "{{ cookiecutter.package_name }}.orchestration.kubeflow_orchestrator.ProjectKubeflowOrchestratorFlavor"
)
PLACEHOLDER = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
# The digest each pushed pipeline image had (make pipeline-image records it): run configurations
# name the image by tag and digest, so a tag pushed again later cannot change what a run executes.
IMAGE_DIGESTS = CONFIGS / "image-digests.yaml"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class MissingVariableError(ValueError):
    """A `${VAR}` of the recipe has no value: the message says which one and where to set it."""


def cluster_variables(settings: Settings) -> dict[str, str]:
    """The values placeholders read: `.env` first, the environment on top."""
    dotenv = dotenv_values(settings.project_root / ".env")
    merged = {**{k: v for k, v in dotenv.items() if v is not None}, **os.environ}
    return {name: value for name, value in merged.items() if value}


def required_variables(settings: Settings) -> set[str]:
    """The placeholders without a default in the recipe and the run configurations."""
    required: set[str] = set()
    for name in ("stack", *PIPELINES):
        document = yaml.safe_load((settings.project_root / CONFIGS / f"{name}.yaml").read_text())
        for text in _strings(document):
            required |= {match[1] for match in PLACEHOLDER.finditer(text) if match[2] is None}
    return required


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def expand(node: Any, variables: dict[str, str], source: str) -> Any:
    """Fill the placeholders of a parsed YAML document; drop mapping entries left empty."""
    if isinstance(node, dict):
        expanded = {key: expand(value, variables, source) for key, value in node.items()}
        return {key: value for key, value in expanded.items() if value != ""}
    if isinstance(node, list):
        return [expand(item, variables, source) for item in node]
    if isinstance(node, str):

        def fill(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            if name in variables:
                return variables[name]
            if default is not None:
                return default
            raise MissingVariableError(
                f"{name} is not set (needed by {source}): set it in .env or the environment, "
                "see .env.example"
            )

        return PLACEHOLDER.sub(fill, node)
    return node


def load_config(settings: Settings, name: str, variables: dict[str, str]) -> dict[str, Any]:
    """One file of configs/kubeflow/, placeholders filled."""
    path = CONFIGS / f"{name}.yaml"
    document = yaml.safe_load((settings.project_root / path).read_text()) or {}
    result: dict[str, Any] = expand(document, variables, str(path))
    return result


def record_image_digest(settings: Settings, image: str, digest: str) -> Path:
    """Remember the digest `image` (a tag) had when it was pushed; returns the file."""
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"digest must look like sha256:<64 hex digits>, got {digest!r}")
    if "@" in image:
        raise ValueError(f"give the image by tag, not by digest: {image!r}")
    path = settings.project_root / IMAGE_DIGESTS
    digests = image_digests(settings)
    digests[image] = digest
    header = "# Written by make pipeline-image and make pipeline-image-cuda: image tag -> digest.\n"
    path.write_text(header + yaml.safe_dump(dict(sorted(digests.items()))))
    return path


def image_digests(settings: Settings) -> dict[str, str]:
    """The recorded digests, by image tag (none before the first push)."""
    path = settings.project_root / IMAGE_DIGESTS
    digests: dict[str, str] = (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}
    return digests


def pin_images(node: Any, digests: dict[str, str]) -> Any:
    """Every `parent_image` of a run configuration with its recorded digest appended."""
    if isinstance(node, dict):
        return {
            key: f"{value}@{digests[value]}"
            if key == "parent_image" and isinstance(value, str) and value in digests
            else pin_images(value, digests)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [pin_images(item, digests) for item in node]
    return node


def ensure_kubeflow_stack(settings: Settings, variables: dict[str, str], suffix: str = "") -> str:
    """Register (or update) the recipe's flavor, components and stack; returns the stack name."""
    recipe = load_config(settings, "stack", variables)
    use_project_zenml(settings)
    from zenml.client import Client
    from zenml.enums import StackComponentType

    ensure_local_stack(settings)
    client = Client()
    _ensure_flavor(client)
    components: dict[StackComponentType, str] = {}
    for kind, spec in recipe["components"].items():
        component_type = StackComponentType(kind)
        name = spec["name"] + suffix
        configuration = spec.get("configuration", {})
        environment = spec.get("environment", {})
        secrets = []
        if "secret" in spec:
            secret = spec["secret"]
            secret_id = _store_secret(client, secret["name"] + suffix, secret, kind)
            configuration = {**configuration, **_secret_references(secret, suffix)}
            secrets = [secret_id]
        try:
            existing = client.get_stack_component(
                component_type, name, allow_name_prefix_match=False
            )
        except KeyError:
            client.create_stack_component(
                name,
                spec["flavor"],
                component_type,
                configuration,
                environment=environment,
                secrets=secrets,
            )
        else:
            if existing.flavor_name != spec["flavor"]:
                raise ValueError(
                    f"the {kind} '{name}' exists with flavor {existing.flavor_name}, the recipe "
                    f"says {spec['flavor']}: delete it with `zenml {kind.replace('_', '-')} "
                    f"delete {name}` and run make stack-kubeflow again"
                )
            client.update_stack_component(
                name,
                component_type,
                configuration=configuration,
                environment=environment,
                add_secrets=[s for s in secrets if s not in existing.secrets],
            )
        components[component_type] = name
    stack = str(recipe["name"]) + suffix
    try:
        client.get_stack(stack, allow_name_prefix_match=False)
    except KeyError:
        client.create_stack(stack, components=components)
    else:
        client.update_stack(stack, component_updates=components)
    return stack


def _store_secret(client: Any, name: str, secret: dict[str, Any], kind: str) -> Any:
    """Create or update the component's ZenML secret from the recipe; returns its id.

    Shared (not private): the pods authenticate as a service account, not as the user who ran
    this. Keys whose variable is unset are removed, so a switch from a token to a password
    leaves no stale token behind.
    """
    values: dict[str, str] = secret.get("values", {})
    if not values:
        raise MissingVariableError(
            f"none of {', '.join(secret['fields'].values())} is set (needed by the {kind} in "
            f"{CONFIGS / 'stack.yaml'}): set them in .env or the environment, see .env.example"
        )
    try:
        existing = client.get_secret(name, allow_partial_name_match=False)
    except KeyError:
        return client.create_secret(name, values, private=False).id
    stale = [key for key in existing.secret_values if key not in values]
    updated = client.update_secret(
        existing.id, add_or_update_values=values, remove_values=stale or None
    )
    return updated.id


def _secret_references(secret: dict[str, Any], suffix: str) -> dict[str, str]:
    """The configuration fields that read the secret, as ZenML secret references."""
    opening, closing = "{" * 2, "}" * 2
    values: dict[str, str] = secret.get("values", {})
    return {
        field: f"{opening}{secret['name']}{suffix}.{key}{closing}"
        for field, key in secret["fields"].items()
        if key in values
    }


def _ensure_flavor(client: Any) -> None:
    """Register the orchestrator flavor under its package import path.

    `Client.create_flavor` would record a path relative to the source root
    (`src.{{ cookiecutter.package_name }}...`), a second copy of the package next to the installed one.
    """
    from zenml.enums import StackComponentType
    from zenml.stack.flavor import validate_flavor_source

    kind = StackComponentType.ORCHESTRATOR
    try:
        existing = client.get_flavor_by_name_and_type(FLAVOR, kind)
    except KeyError:
        existing = None
    if existing is not None and existing.source == FLAVOR_SOURCE:
        return
    if existing is not None:
        client.delete_flavor(existing.id)
    _, flavor = validate_flavor_source(FLAVOR_SOURCE, kind)
    request = flavor.to_model(integration="custom", is_custom=True)
    client.zen_store.create_flavor(request.model_copy(update={"source": FLAVOR_SOURCE}))
