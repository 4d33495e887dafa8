"""Week 4: a champion in the registry, and a challenger the promotion gate rejected."""

from __future__ import annotations

from checkpoints.conftest import next_step
from {{ cookiecutter.package_name }}.governance.promotion import history
from {{ cookiecutter.package_name }}.settings import Settings


def test_a_champion_exists(champion: str) -> None:
    assert champion


def test_the_gate_rejected_a_challenger(settings: Settings) -> None:
    rejected = [event for event in history(settings) if event.action == "reject"]
    if not rejected:
        next_step(
            "the registry's audit history holds no rejected challenger: set model.max_depth: 1 and "
            "model.n_estimators: 1 in params.yaml, run `make train` (the gate rejects the "
            "worse model and the champion stays), then restore both values"
        )
