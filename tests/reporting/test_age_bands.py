"""Age bands as pure logic: any valid band set parses, prints back, and
puts every age in the one band that holds it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.reporting.engine.ages import AGE_BAND_PRESETS, AgeBands, range_of

band_sets = st.lists(st.integers(1, 40), min_size=0, max_size=6).map(
    lambda widths: tuple(np.cumsum([0, *widths]).tolist())
)


def text_of(starts: tuple[int, ...]) -> str:
    parts = [f"{a}-{b - 1}" for a, b in zip(starts, starts[1:], strict=False)]
    return ",".join([*parts, f"{starts[-1]}+"])


@given(starts=band_sets, ages=st.lists(st.integers(-3, 130), max_size=30))
def test_every_age_falls_in_the_band_that_holds_it(
    starts: tuple[int, ...], ages: list[int]
) -> None:
    bands = AgeBands.parse(text_of(starts))
    assert bands.text == text_of(starts)
    assert AgeBands.parse(bands.text) == bands
    found = bands.band(np.array(ages, np.int64)).tolist()
    for age, band in zip(ages, found, strict=True):
        if age < 0:
            assert band == -1
            continue
        low, high = range_of(bands.labels[band]) or (None, None)
        assert low is not None
        assert low <= age
        assert high is None or age <= high


@given(starts=band_sets, low=st.integers(0, 90), width=st.integers(0, 40))
def test_an_anonymous_group_takes_a_band_only_when_one_holds_it_whole(
    starts: tuple[int, ...], low: int, width: int
) -> None:
    bands = AgeBands.parse(text_of(starts))
    for high in (low + width, None):
        label = f"{low}_plus" if high is None else f"{low}_{high}"
        band = bands.of_anonymous(label)
        covering = {
            int(b)
            for b in bands.band(np.arange(low, (130 if high is None else high) + 1))
        }
        assert band == (covering.pop() if len(covering) == 1 else -1)


def test_old_anonymous_names_and_presets() -> None:
    bands = AgeBands.parse("children_adults")
    assert bands.labels == ["0_17", "18_plus"]
    assert bands.of_anonymous("under_18") == bands.of_anonymous("0_17") == 0
    assert bands.of_anonymous("adult") == bands.of_anonymous("18_plus") == 1
    assert bands.of_anonymous("unknown") == -1
    for name, text in AGE_BAND_PRESETS.items():
        assert AgeBands.parse(name) == AgeBands.parse(text)


@pytest.mark.parametrize(
    "text", ["", "0-17", "0-17,20+", "1-17,18+", "0-17,18+,60+", "0-5-9,10+", "x"]
)
def test_bad_band_sets_say_why(text: str) -> None:
    with pytest.raises(ValueError, match="age band"):
        AgeBands.parse(text)
