"""docs/indicators.md is what the catalogue renders: it cannot drift from the
indicator files (no database needed)."""

from __future__ import annotations

from pathlib import Path

from services.reporting.catalogue.catalogue import indicators
from services.reporting.catalogue.docs import MEASURES, render

COMMITTED = Path(__file__).parents[2] / "docs" / "indicators.md"


def test_docs_list_every_indicator_as_defined() -> None:
    assert COMMITTED.read_text() == render(), (
        "run: python -m services.reporting.catalogue.docs > docs/indicators.md"
    )


def test_every_indicator_and_measure_is_described() -> None:
    text = render()
    for indicator in indicators().values():
        assert f'<a id="{indicator.id}"></a>' in text
        assert indicator.measure in MEASURES
