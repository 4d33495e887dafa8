"""Where Evidently reports go: HTML for people and JSON for code, in a folder per run."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.settings import Workspace


def report_folder(settings: Workspace, kind: str, label: str = "") -> Path:
    """A new folder `reports/<kind>/<UTC time>[-<label>]` (microseconds keep runs apart)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    folder = (
        settings.resolve(settings.paths.reports_dir) / kind / "-".join(filter(None, [stamp, label]))
    )
    folder.mkdir(parents=True)
    return folder


def save_snapshot(snapshot: Any, folder: Path, name: str) -> Path:
    """Write `<name>.html` and `<name>.json` of an Evidently snapshot; return the HTML path."""
    html = folder / f"{name}.html"
    snapshot.save_html(str(html))
    snapshot.save_json(str(folder / f"{name}.json"))
    return html
