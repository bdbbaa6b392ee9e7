"""Instrument scoring engine checked against the handbook (domain.md, 3 and 3.1).

Every expected boundary, label, item list and formula here is written out from
the handbook, never read from the packaged JSON definitions, so that a wrong
definition and a wrong engine both show up as failures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.instruments.engine import (
    Instrument,
    ScoreResult,
    assess_change,
    get_instrument,
    score,
)

Responses = dict[str, int | None]
BandTable = list[tuple[int, int, str]]

# --- The handbook, written out ---

# code -> (number of items, lowest answer, highest answer)
PLAIN: dict[str, tuple[int, int, int]] = {
    "phq9": (9, 0, 3),
    "gad7": (7, 0, 3),
    "srq20": (20, 0, 1),
    "who5": (5, 0, 5),
    "whodas12": (12, 1, 5),
}
SDQ_CODES = ("sdq_p4_17", "sdq_t4_17", "sdq_s11_17")
SDQ_SCALES: dict[str, tuple[int, ...]] = {
    "emotional": (3, 8, 13, 16, 24),
    "conduct": (5, 7, 12, 18, 22),
    "hyperactivity": (2, 10, 15, 21, 25),
    "peer": (6, 11, 14, 19, 23),
    "prosocial": (1, 4, 9, 17, 20),
}
SDQ_REVERSED = frozenset({7, 11, 14, 21, 25})
SDQ_DIFFICULTIES = ("emotional", "conduct", "hyperactivity", "peer")

# (instrument, norm set, score, bands as (min, max, label))
BAND_TABLES: list[tuple[str, str, str, BandTable]] = [
    (
        "phq9",
        "standard",
        "total",
        [
            (0, 4, "minimal"),
            (5, 9, "mild"),
            (10, 14, "moderate"),
            (15, 19, "moderately_severe"),
            (20, 27, "severe"),
        ],
    ),
    (
        "gad7",
        "standard",
        "total",
        [(0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe")],
    ),
    (
        "srq20",
        "cutoff_8",
        "total",
        [(0, 7, "below_cutoff"), (8, 20, "probable_common_mental_disorder")],
    ),
    (
        "who5",
        "standard",
        "raw",
        [(0, 12, "poor_wellbeing"), (13, 25, "adequate_wellbeing")],
    ),
    # The percentage is always a multiple of 4: 28 / 32 and 48 / 52 are the
    # reachable edges (raw 7 / 8 and raw 12 / 13).
    (
        "who5",
        "standard",
        "percentage",
        [
            (0, 28, "likely_depression"),
            (32, 48, "poor_wellbeing"),
            (52, 100, "adequate_wellbeing"),
        ],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "total_difficulties",
        [(0, 13, "normal"), (14, 16, "borderline"), (17, 40, "abnormal")],
    ),
    (
        "sdq_p4_17",
        "uk_4band",
        "total_difficulties",
        [
            (0, 13, "close_to_average"),
            (14, 16, "slightly_raised"),
            (17, 19, "high"),
            (20, 40, "very_high"),
        ],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "emotional",
        [(0, 3, "normal"), (4, 4, "borderline"), (5, 10, "abnormal")],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "conduct",
        [(0, 2, "normal"), (3, 3, "borderline"), (4, 10, "abnormal")],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "hyperactivity",
        [(0, 5, "normal"), (6, 6, "borderline"), (7, 10, "abnormal")],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "peer",
        [(0, 2, "normal"), (3, 3, "borderline"), (4, 10, "abnormal")],
    ),
    (
        "sdq_p4_17",
        "uk_3band",
        "prosocial",
        [(0, 6, "abnormal"), (7, 7, "borderline"), (8, 10, "normal")],
    ),
    (
        "sdq_t4_17",
        "uk_4band",
        "total_difficulties",
        [
            (0, 11, "close_to_average"),
            (12, 15, "slightly_raised"),
            (16, 18, "high"),
            (19, 40, "very_high"),
        ],
    ),
    (
        "sdq_s11_17",
        "uk_4band",
        "total_difficulties",
        [
            (0, 14, "close_to_average"),
            (15, 17, "slightly_raised"),
            (18, 19, "high"),
            (20, 40, "very_high"),
        ],
    ),
]


# --- Helpers ---


def load(code: str) -> Instrument:
    instrument = get_instrument(code)
    assert instrument is not None, f"no definition for {code}"
    return instrument


def as_responses(values: Mapping[str, int | None]) -> Responses:
    return dict(values)


def item_ids(n: int) -> list[str]:
    return [str(i) for i in range(1, n + 1)]


def spread(items: Sequence[str], target: int, lo: int, hi: int) -> dict[str, int]:
    """Scored values for ``items``, each within lo..hi, summing to ``target``."""
    if not len(items) * lo <= target <= len(items) * hi:
        raise ValueError(f"{target} is out of reach for {len(items)} items")
    remaining = target - len(items) * lo
    values: dict[str, int] = {}
    for item in items:
        extra = min(hi - lo, remaining)
        values[item] = lo + extra
        remaining -= extra
    return values


def sdq_raw(item: int, scored: int) -> int:
    """The answer to tick so that the item scores ``scored``."""
    return 2 - scored if item in SDQ_REVERSED else scored


def sdq_scored(item: int, raw: int) -> int:
    return 2 - raw if item in SDQ_REVERSED else raw


def responses_for(code: str, score_id: str, target: int) -> Responses:
    """Complete answers whose ``score_id`` comes to ``target``."""
    if code in SDQ_CODES:
        if score_id == "total_difficulties":
            items = [i for s in SDQ_DIFFICULTIES for i in SDQ_SCALES[s]]
        else:
            items = list(SDQ_SCALES[score_id])
        scored = dict.fromkeys(range(1, 26), 0)
        wanted = spread([str(i) for i in items], target, 0, 2)
        scored.update({int(k): v for k, v in wanted.items()})
        return {str(i): sdq_raw(i, v) for i, v in scored.items()}
    n, lo, hi = PLAIN[code]
    if code == "who5" and score_id == "percentage":
        assert target % 4 == 0, "WHO-5 percentages are multiples of 4"
        target //= 4
    return as_responses(spread(item_ids(n), target, lo, hi))


def lowest(code: str) -> Responses:
    """Complete answers, each the lowest on its scale."""
    if code in SDQ_CODES:
        return as_responses(dict.fromkeys(item_ids(25), 0))
    n, lo, _ = PLAIN[code]
    return as_responses(dict.fromkeys(item_ids(n), lo))


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def expected_sdq(answers: Mapping[str, int | None]) -> dict[str, float | None]:
    """Scale scores per the handbook: reverse 7, 11, 14, 21, 25; a scale needs
    3 of 5 items and is then pro-rated (mean x 5, half-up to a whole number)."""
    result: dict[str, float | None] = {}
    for scale, items in SDQ_SCALES.items():
        given_ = [
            sdq_scored(i, raw)
            for i in items
            if (raw := answers.get(str(i))) is not None
        ]
        if len(given_) < 3:
            result[scale] = None
        else:
            result[scale] = half_up(Fraction(sum(given_), len(given_)) * 5)

    def add(*scales: str) -> float | None:
        parts = [result[s] for s in scales]
        return None if any(p is None for p in parts) else sum(p or 0 for p in parts)

    result["externalising"] = add("conduct", "hyperactivity")
    result["internalising"] = add("emotional", "peer")
    result["total_difficulties"] = add(*SDQ_DIFFICULTIES)
    return result


def error_items(result: ScoreResult) -> set[str]:
    return {e.item for e in result.errors}


def boundary_cases() -> list[Any]:
    cases = []
    for code, norm, score_id, table in BAND_TABLES:
        for lo, hi, label in table:
            for value in sorted({lo, hi}):
                cases.append(
                    pytest.param(
                        code,
                        norm,
                        score_id,
                        value,
                        label,
                        id=f"{code}-{norm}-{score_id}-{value}-{label}",
                    )
                )
    return cases


# --- 1. Band boundaries ---


@pytest.mark.parametrize(
    ("code", "norm", "score_id", "value", "label"), boundary_cases()
)
def test_band_boundary(
    code: str, norm: str, score_id: str, value: int, label: str
) -> None:
    responses = responses_for(code, score_id, value)
    result = score(load(code), responses, norm=norm)
    assert result.valid, result.errors
    assert result.norm == norm
    assert result.scores[score_id] == value
    assert result.bands[score_id] == label


@pytest.mark.parametrize(
    ("code", "norm", "score_id", "table"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}-{row[2]}") for row in BAND_TABLES],
)
def test_every_reachable_value_has_the_handbook_band(
    code: str, norm: str, score_id: str, table: BandTable
) -> None:
    step = 4 if score_id == "percentage" else 1
    instrument = load(code)
    for value in range(table[0][0], table[-1][1] + 1, step):
        labels = [label for lo, hi, label in table if lo <= value <= hi]
        assert len(labels) == 1, f"handbook table leaves {value} unbanded"
        result = score(instrument, responses_for(code, score_id, value), norm=norm)
        assert result.scores[score_id] == value
        assert result.bands[score_id] == labels[0], f"{score_id}={value}"


def test_whodas_has_no_bands() -> None:
    result = score(load("whodas12"), as_responses(dict.fromkeys(item_ids(12), 3)))
    assert result.valid
    assert result.scores["total"] == 36
    assert all(band is None for band in result.bands.values())


@pytest.mark.parametrize(
    ("code", "norm"),
    [("sdq_t4_17", "uk_4band"), ("sdq_s11_17", "uk_4band"), ("srq20", "cutoff_8")],
)
def test_default_norm(code: str, norm: str) -> None:
    result = score(load(code), lowest(code))
    assert result.valid
    assert result.norm == norm


def test_unknown_norm_gives_no_band() -> None:
    result = score(load("phq9"), responses_for("phq9", "total", 12), norm="nowhere")
    assert result.scores["total"] == 12
    assert result.bands["total"] is None


# --- 2. Property tests: the engine sums what the handbook sums ---


def complete(code: str) -> st.SearchStrategy[dict[str, int]]:
    if code in SDQ_CODES:
        n, lo, hi = 25, 0, 2
    else:
        n, lo, hi = PLAIN[code]
    return st.fixed_dictionaries({i: st.integers(lo, hi) for i in item_ids(n)})


def check_plain(code: str, answers: dict[str, int]) -> ScoreResult:
    result = score(load(code), as_responses(answers))
    assert result.valid, result.errors
    assert result.missing_items == []
    return result


@settings(deadline=None)
@given(complete("phq9"))
def test_phq9_property(answers: dict[str, int]) -> None:
    result = check_plain("phq9", answers)
    assert result.scores == {"total": sum(answers.values())}
    assert result.risk_flags == (["suicide_risk"] if answers["9"] > 0 else [])


@settings(deadline=None)
@given(complete("gad7"))
def test_gad7_property(answers: dict[str, int]) -> None:
    result = check_plain("gad7", answers)
    assert result.scores == {"total": sum(answers.values())}
    assert result.risk_flags == []


@settings(deadline=None)
@given(complete("srq20"))
def test_srq20_property(answers: dict[str, int]) -> None:
    result = check_plain("srq20", answers)
    assert result.scores == {"total": sum(answers.values())}
    assert result.risk_flags == (["suicide_risk"] if answers["17"] == 1 else [])


@settings(deadline=None)
@given(complete("who5"))
def test_who5_property(answers: dict[str, int]) -> None:
    result = check_plain("who5", answers)
    raw = sum(answers.values())
    assert result.scores == {"raw": raw, "percentage": 4 * raw}
    # domain.md 3: any item answered 0 or 1 -> screen for depression
    low = any(v <= 1 for v in answers.values())
    assert result.risk_flags == (["screen_for_depression"] if low else [])


@settings(deadline=None)
@given(complete("whodas12"))
def test_whodas12_property(answers: dict[str, int]) -> None:
    result = check_plain("whodas12", answers)
    total = sum(answers.values())
    assert 12 <= total <= 60
    assert result.scores == {"total": total}
    assert result.risk_flags == []


@pytest.mark.parametrize("code", SDQ_CODES)
@settings(deadline=None)
@given(answers=complete("sdq_p4_17"))
def test_sdq_property(code: str, answers: dict[str, int]) -> None:
    result = check_plain(code, answers)
    scales = {
        scale: sum(sdq_scored(i, answers[str(i)]) for i in items)
        for scale, items in SDQ_SCALES.items()
    }
    expected = {
        **scales,
        "externalising": scales["conduct"] + scales["hyperactivity"],
        "internalising": scales["emotional"] + scales["peer"],
        "total_difficulties": sum(scales[s] for s in SDQ_DIFFICULTIES),
    }
    assert result.scores == expected
    assert result.risk_flags == []


# --- 3. Validation ---


@pytest.mark.parametrize(
    ("code", "item", "bad"),
    [
        ("phq9", "3", 4),
        ("phq9", "9", -1),
        ("gad7", "7", 4),
        ("srq20", "5", 2),
        ("srq20", "17", -1),
        ("who5", "2", 6),
        ("whodas12", "4", 0),
        ("whodas12", "12", 6),
        ("sdq_p4_17", "7", 3),
        ("sdq_t4_17", "1", -1),
        ("sdq_s11_17", "25", 3),
    ],
)
def test_out_of_scale_answer_is_an_error(code: str, item: str, bad: int) -> None:
    responses = lowest(code)
    responses[item] = bad
    result = score(load(code), responses)
    assert not result.valid
    assert item in error_items(result)


@pytest.mark.parametrize("code", ["phq9", "srq20", "sdq_p4_17"])
@pytest.mark.parametrize("flag", [True, False])
def test_booleans_are_refused(code: str, flag: bool) -> None:
    n = 25 if code in SDQ_CODES else PLAIN[code][0]
    responses = as_responses(dict.fromkeys(item_ids(n), 0))
    responses["1"] = flag
    result = score(load(code), responses)
    assert not result.valid
    assert "1" in error_items(result)


@pytest.mark.parametrize("bad", ["1", 1.5, [1]])
def test_non_integer_answers_are_refused(bad: Any) -> None:
    responses: dict[str, Any] = dict.fromkeys(item_ids(9), 0)
    responses["2"] = bad
    result = score(load("phq9"), responses)
    assert not result.valid
    assert "2" in error_items(result)


@pytest.mark.parametrize(
    ("code", "unknown"),
    [("phq9", "11"), ("phq9", "q1"), ("gad7", "0"), ("sdq_p4_17", "26")],
)
def test_unknown_item_is_an_error(code: str, unknown: str) -> None:
    n = 25 if code in SDQ_CODES else PLAIN[code][0]
    responses = as_responses(dict.fromkeys(item_ids(n), 0))
    responses[unknown] = 0
    result = score(load(code), responses)
    assert not result.valid
    assert unknown in error_items(result)


@pytest.mark.parametrize("item", item_ids(9))
@pytest.mark.parametrize("how", ["omitted", "none"])
def test_phq9_any_missing_item_is_invalid(item: str, how: str) -> None:
    responses = as_responses(dict.fromkeys(item_ids(9), 2))
    if how == "omitted":
        del responses[item]
    else:
        responses[item] = None
    result = score(load("phq9"), responses)
    assert not result.valid
    assert item in error_items(result)
    assert result.missing_items == [item]
    assert result.scores["total"] is None  # no pro-rating
    assert result.bands["total"] is None


@pytest.mark.parametrize("code", ["gad7", "srq20", "who5", "whodas12"])
def test_other_plain_instruments_refuse_a_missing_item(code: str) -> None:
    n, lo, _ = PLAIN[code]
    responses = as_responses(dict.fromkeys(item_ids(n), lo))
    del responses["2"]
    result = score(load(code), responses)
    assert not result.valid
    assert "2" in error_items(result)
    assert result.missing_items == ["2"]
    assert all(v is None for v in result.scores.values())


def test_empty_phq9_names_every_item() -> None:
    result = score(load("phq9"), {})
    assert not result.valid
    assert error_items(result) == set(item_ids(9))
    assert result.missing_items == item_ids(9)


# --- 4. SDQ missing items ---


def sdq_base() -> Responses:
    return responses_for("sdq_p4_17", "total_difficulties", 0)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"3": 2, "8": 1, "13": 1}, 7),  # 4 / 3 * 5 = 6.67
        ({"3": 1, "8": 0, "13": 0}, 2),  # 1.67
        ({"3": 1, "8": 1, "13": 0}, 3),  # 3.33
        ({"3": 2, "8": 2, "13": 1}, 8),  # 8.33
        ({"3": 2, "8": 2, "13": 2}, 10),
        ({"3": 0, "8": 0, "13": 0}, 0),
        ({"3": 1, "8": 1, "13": 0, "16": 0}, 3),  # 2.5, half up
        ({"3": 2, "8": 2, "13": 1, "16": 1}, 8),  # 7.5, half up
        ({"3": 1, "8": 0, "13": 0, "16": 0}, 1),  # 1.25
        ({"3": 1, "8": 1, "13": 1, "16": 0}, 4),  # 3.75
    ],
)
def test_sdq_prorated_emotional(answers: dict[str, int], expected: int) -> None:
    responses = sdq_base()
    for item in ("3", "8", "13", "16", "24"):
        responses.pop(item)
    responses.update(answers)
    result = score(load("sdq_p4_17"), responses)
    assert result.valid, result.errors
    assert result.scores["emotional"] == expected
    assert result.scores["internalising"] == expected  # peer is 0
    assert result.scores["total_difficulties"] == expected
    missing = sorted(set(SDQ_SCALES["emotional"]) - {int(i) for i in answers})
    assert result.missing_items == [str(i) for i in missing]


def test_sdq_prorating_uses_reversed_values() -> None:
    responses = sdq_base()
    responses.update({"5": 0, "7": 0, "12": 0, "18": None, "22": None})
    # item 7 is reversed: answer 0 scores 2, so 2 / 3 * 5 = 3.33 -> 3
    result = score(load("sdq_p4_17"), responses)
    assert result.valid, result.errors
    assert result.scores["conduct"] == 3
    assert result.bands["conduct"] == "borderline"
    assert result.scores["externalising"] == 3


def test_sdq_prorated_total_band() -> None:
    responses = responses_for("sdq_p4_17", "total_difficulties", 13)
    # emotional reaches 13 first: items 3, 8, 13, 16, 24 = 2, 2, 2, 2, 2 and
    # conduct 5, 7 = 2, 1. Drop emotional 24 and 16: still 2 x 5 = 10.
    responses["16"] = None
    responses["24"] = None
    result = score(load("sdq_p4_17"), responses, norm="uk_3band")
    assert result.valid, result.errors
    assert result.scores["emotional"] == 10
    assert result.scores["total_difficulties"] == 13
    assert result.bands["total_difficulties"] == "normal"


@pytest.mark.parametrize("code", SDQ_CODES)
def test_sdq_two_answered_is_not_scored(code: str) -> None:
    responses = responses_for(code, "total_difficulties", 0)
    responses.update({"3": 2, "8": 2, "13": None})
    del responses["16"]
    del responses["24"]
    result = score(load(code), responses)
    assert not result.valid
    assert {"13", "16", "24"} <= error_items(result)
    assert result.scores["emotional"] is None
    assert result.scores["internalising"] is None
    assert result.scores["total_difficulties"] is None
    assert result.bands.get("total_difficulties") is None
    assert result.scores["conduct"] == 0
    assert result.scores["externalising"] == 0


@settings(deadline=None)
@given(data=st.data())
def test_sdq_missing_items_property(data: st.DataObject) -> None:
    responses: Responses = {}
    for items in SDQ_SCALES.values():
        answered = data.draw(
            st.lists(st.sampled_from(items), min_size=0, max_size=5, unique=True)
        )
        for item in items:
            if item in answered:
                responses[str(item)] = data.draw(st.integers(0, 2))
            elif data.draw(st.booleans()):
                responses[str(item)] = None
    result = score(load("sdq_p4_17"), responses)
    expected = expected_sdq(responses)
    assert result.scores == expected
    short = [s for s in SDQ_SCALES if expected[s] is None]
    assert result.valid == (not short)
    for scale in short:
        lacking = {str(i) for i in SDQ_SCALES[scale] if responses.get(str(i)) is None}
        assert lacking <= error_items(result)


# --- 5. Risk flags ---


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_flags_whatever_the_total(item9: int) -> None:
    responses = as_responses(dict.fromkeys(item_ids(9), 0))
    responses["9"] = item9
    result = score(load("phq9"), responses)
    assert result.valid
    assert result.scores["total"] == item9
    assert result.bands["total"] == "minimal"
    assert result.risk_flags == ["suicide_risk"]


def test_phq9_item9_zero_no_flag_even_when_severe() -> None:
    responses = as_responses(dict.fromkeys(item_ids(9), 3))
    responses["9"] = 0
    result = score(load("phq9"), responses)
    assert result.scores["total"] == 24
    assert result.bands["total"] == "severe"
    assert result.risk_flags == []


def test_phq9_item9_flags_even_when_another_item_is_missing() -> None:
    responses = as_responses(dict.fromkeys(item_ids(9), 0))
    responses["9"] = 1
    del responses["4"]
    result = score(load("phq9"), responses)
    assert not result.valid
    assert result.risk_flags == ["suicide_risk"]


def test_srq20_item17_flags() -> None:
    responses = as_responses(dict.fromkeys(item_ids(20), 0))
    responses["17"] = 1
    result = score(load("srq20"), responses)
    assert result.scores["total"] == 1
    assert result.bands["total"] == "below_cutoff"
    assert result.risk_flags == ["suicide_risk"]


def test_srq20_item17_no_no_flag() -> None:
    responses = as_responses(dict.fromkeys(item_ids(20), 1))
    responses["17"] = 0
    result = score(load("srq20"), responses)
    assert result.scores["total"] == 19
    assert result.risk_flags == []


# --- 6. Change ---


@pytest.mark.parametrize(
    ("baseline", "latest", "improved", "reliable", "meaningful"),
    [
        (18, 11, True, True, True),
        (18, 12, True, True, True),  # 6: reliable threshold reached
        (18, 13, True, False, True),  # 5: meaningful, not reliable
        (18, 14, True, False, False),
        (18, 18, False, False, False),
        (10, 16, False, False, False),
    ],
)
def test_phq9_change(
    baseline: int, latest: int, improved: bool, reliable: bool, meaningful: bool
) -> None:
    change = assess_change(load("phq9"), baseline, latest)
    assert change["change"] == latest - baseline
    assert change["improved"] is improved
    assert change["reliable"] is reliable
    assert change["meaningful"] is meaningful


@pytest.mark.parametrize(
    ("baseline", "latest", "improved", "meaningful"),
    [
        (40, 52, True, True),
        (40, 50, True, True),  # exactly 10 points
        (40, 44, True, False),
        (40, 48, True, False),
        (52, 40, False, False),
    ],
)
def test_who5_percentage_change(
    baseline: int, latest: int, improved: bool, meaningful: bool
) -> None:
    change = assess_change(load("who5"), baseline, latest)
    assert change["change"] == latest - baseline
    assert change["improved"] is improved
    assert change["meaningful"] is meaningful


def test_change_from_scored_results() -> None:
    phq9 = load("phq9")
    before = score(phq9, responses_for("phq9", "total", 18)).scores["total"]
    after = score(phq9, responses_for("phq9", "total", 11)).scores["total"]
    assert before is not None
    assert after is not None
    change = assess_change(phq9, before, after)
    assert change == {
        "change": -7,
        "improved": True,
        "reliable": True,
        "meaningful": True,
    }


# --- Lookup ---


def test_lookup() -> None:
    assert load("phq9").version == "1.0"
    assert get_instrument("phq9", "1.0") is not None
    assert get_instrument("phq9", "9.9") is None
    assert get_instrument("no_such_instrument") is None


def test_phq9_difficulty_item_is_optional_and_unscored() -> None:
    responses = as_responses(dict.fromkeys(item_ids(9), 1))
    without = score(load("phq9"), responses)
    with_it = score(load("phq9"), {**responses, "10": 3})
    assert without.valid
    assert with_it.valid
    assert without.scores == with_it.scores == {"total": 9.0}
    assert without.missing_items == []


def test_float_answers_are_refused() -> None:
    responses: dict[str, int | None] = dict.fromkeys(item_ids(9), 1)
    responses["1"] = 1.0  # type: ignore[assignment]
    assert not score(load("phq9"), responses).valid


def test_docs_list_every_instrument_as_defined() -> None:
    from pathlib import Path

    from shared.instruments.catalogue import render

    committed = Path(__file__).parents[2] / "docs" / "instruments.md"
    assert committed.read_text() == render(), (
        "run: python -m shared.instruments.catalogue > docs/instruments.md"
    )
