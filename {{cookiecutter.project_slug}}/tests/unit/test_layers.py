"""The package's layers import only downwards (docs/architecture.md).

settings -> data -> features -> model -> monitoring, governance, serving -> steps -> pipelines ->
orchestration -> cli. Imports inside functions count too: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import {{ cookiecutter.package_name }}

PACKAGE = {{ cookiecutter.package_name }}.__name__
SOURCE = Path({{ cookiecutter.package_name }}.__file__).parent
RANK = {
    "__init__": 0,
    "settings": 0,
    "data": 1,
    "features": 2,
    "model": 3,
    "monitoring": 4,
    "governance": 4,
    "serving": 4,
    "steps": 5,
    "pipelines": 6,
    "orchestration": 7,
    "cli": 8,
}


def layer_of(path: Path, source: Path = SOURCE) -> str:
    """The layer a source file belongs to: its top folder, or its module name at the top."""
    return path.relative_to(source).parts[0].removesuffix(".py")


def imported_layers(path: Path) -> set[str]:
    """The package's layers a file imports, at module level or inside functions."""
    layers = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE:
                layers.add(parts[1] if len(parts) > 1 else "__init__")
    return layers


def upward_imports(source: Path) -> list[str]:
    """Every import of a higher layer, as `file -> layer`."""
    found = []
    for path in sorted(source.rglob("*.py")):
        own = layer_of(path, source)
        for layer in sorted(imported_layers(path)):
            if RANK[layer] > RANK[own]:
                found.append(f"{path.relative_to(source)} -> {layer}")
    return found


def test_every_layer_has_a_rank() -> None:
    assert {layer_of(path) for path in SOURCE.rglob("*.py")} == set(RANK)


def test_no_layer_imports_a_higher_one() -> None:
    assert upward_imports(SOURCE) == []


@pytest.mark.parametrize(
    ("folder", "module", "imported"),
    [("model", "registry.py", "governance"), ("pipelines", "training.py", "orchestration")],
)
def test_an_upward_import_is_found(tmp_path: Path, folder: str, module: str, imported: str) -> None:
    (tmp_path / folder).mkdir()
    (tmp_path / folder / module).write_text(
        f"def later() -> None:\n    from {PACKAGE}.{imported} import anything\n"
    )
    assert upward_imports(tmp_path) == [f"{folder}/{module} -> {imported}"]
