"""A team's own transactions through the whole job: a bank's CSV, a mapping, no code changes.

The CSV is unlike the synthetic data: other column names, day-first local times in Paris, the
bank's own category and channel names, extra columns, repeated and unlabelled rows, and cards
with several transactions in one second. It lives outside the project, as an export would, and
is imported as `make data` does (`data fetch`, then `dvc repro`). The module builds the project
once: data, features, a champion; then serves it and breaks the source in every way the
contract forbids, each time checking that nothing downstream moved.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

from {{ cookiecutter.package_name }}.data.generate import generate
from {{ cookiecutter.package_name }}.settings import DataSettings, load_settings
from tests.helpers import (
    CLI,
    clean_environment,
    copy_project,
    edit_params,
    free_port,
    ok,
    run,
    serving,
)

# Not marked online_store: the Redis bake reruns only what depends on the store's kind, and the
# import does not. On Redis, this project still has a database of its own (the trained one uses 1).
OWN_DATA_REDIS_DB = 2
CARD_BASE = 4_000_000_000_000_000
BANK_CATEGORIES = {
    "grocery": "GROC",
    "restaurant": "REST",
    "fuel": "GAS",
    "retail": "SHOP",
    "electronics": "ELEC",
    "travel": "TRVL",
    "entertainment": "ENT",
    "gambling": "charity",  # a name the mapping leaves out: those rows become `other`
}
MAPPING = {
    "transaction_id": "txn_ref",
    "customer_id": "card_no",
    "event_timestamp": "posted_at",
    "time_format": "%d/%m/%Y %H:%M:%S",
    "time_zone": "Europe/Paris",
    "amount": "amt_eur",
    "merchant_category": "mcc_group",
    "channel": "entry_mode",
    "country": "country_iso",
    "label": "fraud_flag",
    "merchant_categories": {
        code: value for value, code in BANK_CATEGORIES.items() if code != "charity"
    },
    "channels": {"chip": "pos", "ecom": "online", "atm": "atm"},
}
REPEATED, UNLABELLED, SAME_SECOND = 5, 7, 6
PROTECTED = (
    "data/raw/customers.parquet",
    "data/raw/transactions.parquet",
    "data/raw/import_report.json",
    "data/features/customer_features.parquet",
    "dvc.lock",
)


def bank_export() -> pd.DataFrame:
    """Synthetic transactions rewritten as a bank would export them, with its flaws."""
    settings = DataSettings(n_customers=150, n_transactions=4000, days=20, fraud_rate=0.06)
    transactions = generate(settings, seed=7).transactions
    frame = pd.DataFrame(
        {
            "txn_ref": "TX-" + transactions["transaction_id"].astype(str),
            "card_no": (transactions["customer_id"] + CARD_BASE).astype(str),
            "posted_at": transactions["event_timestamp"]
            .dt.tz_convert("Europe/Paris")
            .dt.strftime("%d/%m/%Y %H:%M:%S"),
            "amt_eur": transactions["amount"].map("{:.2f}".format),
            "mcc_group": transactions["merchant_category"].map(BANK_CATEGORIES),
            "entry_mode": transactions["channel"]
            .map({"pos": "chip", "online": "ecom"})
            .fillna("atm"),
            "country_iso": transactions["country"].str.lower(),
            "fraud_flag": transactions["is_fraud"].astype(str),
            "terminal_id": "T" + (transactions.index % 97).astype(str),
            "batch": "2026-W03",
        }
    )
    # Cards with several transactions in one second: copy each row's card and time to the next.
    for row in range(100, 100 + 2 * SAME_SECOND, 2):
        frame.loc[row + 1, ["card_no", "posted_at"]] = frame.loc[row, ["card_no", "posted_at"]]
    frame.loc[frame.index[200 : 200 + UNLABELLED], "fraud_flag"] = ""
    return pd.concat([frame, frame.iloc[300 : 300 + REPEATED]], ignore_index=True)


def digests(project: Path) -> dict[str, str]:
    return {name: hashlib.sha256((project / name).read_bytes()).hexdigest() for name in PROTECTED}


def make_data(project: Path) -> tuple[str, str, int]:
    """What `make data` runs: `data fetch`, then `dvc repro`; their output and repro's status."""
    fetched = ok(run(project, CLI, "data", "fetch"))
    repro = run(project, sys.executable, "-m", "dvc", "repro")
    return fetched, repro.stdout + repro.stderr, repro.returncode


def champion_version(project: Path) -> str:
    settings = load_settings(project)
    client = MlflowClient(settings.tracking.resolved_uri(project))
    return str(client.get_model_version_by_alias(settings.serving.model_name, "champion").version)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "export.csv"
    bank_export().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    source: Path,
    online_store_environment: dict[str, str],
) -> Iterator[Path]:
    """The project on the bank's data: imported, features applied, a champion (gate only)."""
    root = copy_project(tmp_path_factory.mktemp("own-data") / "project")
    edit_params(root, "data", source=str(source), mapping=MAPPING)
    edit_params(root, "governance", require_approval=False)
    with pytest.MonkeyPatch.context() as patch:
        clean_environment(patch)
        for name, value in online_store_environment.items():
            patch.setenv(name, f"{value},db={OWN_DATA_REDIS_DB}")
        ok(run(root, "git", "init", "-q", "-b", "main"))
        ok(run(root, sys.executable, "-m", "dvc", "init", "--quiet"))
        fetched, output, status = make_data(root)
        assert status == 0, output
        assert "imported to data/source/transactions.csv" in fetched
        ok(run(root, CLI, "features", "apply"))
        assert "is the champion" in ok(run(root, CLI, "train"))
        yield root


def test_the_import_report_counts_what_was_dropped_mapped_and_defaulted(project: Path) -> None:
    report = json.loads((project / "data" / "raw" / "import_report.json").read_text())
    assert report["rows_read"] == 4000 + REPEATED
    assert report["dropped"] == {"missing label": UNLABELLED, "repeated transaction id": REPEATED}
    assert report["rows_kept"] == 4000 - UNLABELLED
    assert list(report["other"]["merchant_category"]) == ["charity"]
    assert report["mapped"]["merchant_category"]["GROC -> grocery"] > 0
    assert report["same_second_rows"] >= 2 * SAME_SECOND
    assert report["transaction_ids"].startswith("numbered in file order")
    logged = list((project / "artifacts" / "mlflow" / "artifacts").rglob("data/import_report.*"))
    assert sorted(path.name for path in logged) == ["import_report.json", "import_report.md"]


def test_every_labelled_row_reaches_the_training_set(project: Path) -> None:
    report = json.loads((project / "data" / "raw" / "import_report.json").read_text())
    settings = load_settings(project)
    client = MlflowClient(settings.tracking.resolved_uri(project))
    version = client.get_model_version_by_alias(settings.serving.model_name, "champion")
    params = client.get_run(str(version.run_id)).data.params
    assert int(params["train_rows"]) + int(params["test_rows"]) == report["rows_kept"]


def test_the_champion_trained_on_the_bank_s_data_is_served(project: Path, tmp_path: Path) -> None:
    assert "built Bento" in ok(run(project, CLI, "bento"))
    request = tmp_path / "request.json"
    card = CARD_BASE + 3
    body = {
        "transaction_id": "bank-1",
        "customer_id": card,
        "amount": 42.0,
        "merchant_category": "other",
        "channel": "online",
        "country": "FR",
        "event_timestamp": "2026-01-19T10:00:00Z",
    }
    request.write_text(json.dumps(body))
    port = free_port()
    with serving([CLI, "serve", "--port", str(port)], "listening on http://127.0.0.1", cwd=project):
        answer = json.loads(
            ok(run(project, CLI, "send", str(request), "--port", str(port), "--wait", "120"))
        )
    assert 0.0 <= answer["fraud_probability"] <= 1.0
    assert answer["features_missing"] is False  # the card's features, from the online store
    assert str(answer["model_version"]) == champion_version(project)


BREACHES = {
    "missing-column": (
        lambda frame: frame.drop(columns="amt_eur"),
        "amount: column 'amt_eur' is not in the source",
    ),
    "bad-time": (
        lambda frame: frame.assign(
            posted_at=frame["posted_at"].mask(frame.index == 3, "31/02/2026 25:61:00")
        ),
        "event_timestamp (column 'posted_at'): 1 rows where it is not a time in format "
        "%d/%m/%Y %H:%M:%S (line 5: '31/02/2026 25:61:00')",
    ),
    "negative-amount": (
        lambda frame: frame.assign(amt_eur=frame["amt_eur"].mask(frame.index == 9, "-12.50")),
        "amount (column 'amt_eur'): 1 rows where it is not above 0 (line 11: '-12.50')",
    ),
    "label-not-0-1": (
        lambda frame: frame.assign(fraud_flag=frame["fraud_flag"].mask(frame.index == 0, "2")),
        "is_fraud (column 'fraud_flag'): 1 rows where it is not 0 or 1 (line 2: '2')",
    ),
    "no-fraud": (
        lambda frame: frame.assign(fraud_flag=frame["fraud_flag"].replace("1", "0")),
        "is_fraud (column 'fraud_flag'): no row of",
    ),
}


@pytest.mark.parametrize("breach", BREACHES)
def test_a_source_that_breaks_the_contract_stops_and_nothing_downstream_moves(
    project: Path, source: Path, breach: str
) -> None:
    good = source.read_bytes()
    before, champion = digests(project), champion_version(project)
    change, clause = BREACHES[breach]
    change(pd.read_csv(source, dtype=str, keep_default_na=False)).to_csv(source, index=False)
    try:
        fetched, output, status = make_data(project)
    finally:
        source.write_bytes(good)
    assert "changed, re-imported" in fetched
    assert status != 0
    errors = [line for line in output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and clause in errors[0], output
    assert digests(project) == before
    assert champion_version(project) == champion


def test_a_changed_source_re_imports_and_an_unchanged_one_is_a_no_op(
    project: Path, source: Path
) -> None:
    fetched, output, status = make_data(project)  # the good export again, after the breaches
    assert status == 0 and "Data and pipelines are up to date" in output, output
    fetched, output, status = make_data(project)
    assert "unchanged" in fetched and "Data and pipelines are up to date" in output, output
    with source.open("a") as export:
        export.write("TX-new,4000000000000003,20/01/2026 09:00:00,10.00,GROC,chip,fr,0,T1,x\n")
    fetched, output, status = make_data(project)
    assert "changed, re-imported" in fetched
    assert status == 0 and "Running stage 'raw'" in output and "Running stage 'features'" in output
    report = json.loads((project / "data" / "raw" / "import_report.json").read_text())
    assert report["rows_read"] == 4000 + REPEATED + 1
