"""The Spark bake's engine: Feast's Spark store with the settings' session; masters out of reach."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.data.sources import write_raw_tables
from {{ cookiecutter.package_name }}.features.build import write_feature_table
from {{ cookiecutter.package_name }}.features.store import open_store
from {{ cookiecutter.package_name }}.settings import Settings, load_settings
from tests.helpers import ENV_PREFIX, SMALL_DATA, clean_environment, copy_project, run

pytestmark = pytest.mark.offline_store
MASTER = f"{ENV_PREFIX}FEAST__SPARK__MASTER"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A small project with raw data and a feature table built on local Spark."""
    root = copy_project(tmp_path_factory.mktemp("spark"))
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        for name, value in SMALL_DATA.items():
            patch.setenv(ENV_PREFIX + name, value)
        patch.chdir(root)
        settings = load_settings()
        write_raw_tables(settings)
        write_feature_table(settings)
        yield settings


def refused_address() -> str:
    """host:port on loopback where nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"127.0.0.1:{port}"


def test_feast_joins_with_its_spark_store_configured_from_the_settings(project: Settings) -> None:
    store = open_store(project)
    offline = store.config.offline_store
    assert type(store._get_provider().offline_store).__name__ == "SparkOfflineStore"
    assert offline.spark_conf["spark.master"] == "local[*]"
    assert offline.spark_conf["spark.sql.session.timeZone"] == "UTC"


def test_feature_table_is_one_parquet_file_with_microsecond_utc_times(project: Settings) -> None:
    import pyarrow.parquet as pq

    path = DataFiles.of(project).features
    assert path.is_file(), "Feast's source and pandas read one file, not Spark's folder"
    schema = pq.read_schema(path)
    assert str(schema.field("event_timestamp").type) == "timestamp[us, tz=UTC]"
    assert not list(path.parent.glob("*.parts")), "no part folder may be left behind"


@pytest.mark.parametrize(
    ("scheme", "command"),
    [
        ("spark://", ("features", "build")),
        ("k8s://https://", ("features", "training-set", "--out", "training_set.parquet")),
    ],
)
def test_a_master_that_cannot_be_reached_stops_in_one_line_and_keeps_the_outputs(
    project: Settings, scheme: str, command: tuple[str, ...]
) -> None:
    address = refused_address()
    root = project.project_root
    features = DataFiles.of(project).features
    out = root / "training_set.parquet"
    out.write_bytes(b"the previous training set")
    before = features.read_bytes()

    result = run(
        root,
        "{{ cookiecutter.project_slug }}",
        *command,
        env={MASTER: f"{scheme}{address}"},
        inherit_settings=False,
    )

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"feast.spark.master {scheme}{address}" in lines[0]
    assert "cannot be reached" in lines[0]
    assert features.read_bytes() == before
    assert out.read_bytes() == b"the previous training set"


def test_a_master_that_is_no_spark_url_is_refused_by_the_settings(project: Settings) -> None:
    result = run(
        Path(project.project_root),
        "{{ cookiecutter.project_slug }}",
        "settings",
        env={MASTER: "localhost:7077"},
        inherit_settings=False,
    )
    assert result.returncode == 1
    assert "feast.spark.master" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
