"""Validation and scoring of instrument responses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerOption(_Model):
    """One answer an item offers, with the value it scores."""

    value: int
    label: str


class Item(_Model):
    """One question of an instrument."""

    id: str
    text: str | None = Field(
        default=None, description="Omitted where the licence forbids copying it."
    )
    scale: str
    reverse: bool = False


class Band(_Model):
    """A score range and the label it carries (for example "moderate")."""

    min: float
    max: float
    label: str


class MissingRule(_Model):
    """How many items a score may lack, and whether to pro-rate them."""

    max_missing: int = 0
    prorate: bool = False


class Score(_Model):
    """How an instrument's score is computed from its items, and its bands."""

    id: str
    name: str
    items: list[str] = Field(default_factory=list)
    components: list[str] = Field(
        default_factory=list, description="Other scores summed (e.g. SDQ total)."
    )
    multiplier: float = 1.0
    missing: MissingRule = MissingRule()
    bands: dict[str, list[Band]] = Field(
        default_factory=dict, description="Severity bands per norm set."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Score:
        if bool(self.items) == bool(self.components):
            raise ValueError(f"score {self.id}: give items or components")
        return self


class RiskRule(_Model):
    """Raise ``flag`` when ``item`` is answered above ``above`` (or below
    ``below``)."""

    item: str
    above: int | None = None
    below: int | None = None
    flag: str

    def raised_by(self, answer: int) -> bool:
        return (self.above is not None and answer > self.above) or (
            self.below is not None and answer < self.below
        )


class ChangeRule(_Model):
    """What change in a score counts as reliable or meaningful, with its source."""

    score: str
    better: Literal["lower", "higher"]
    reliable_change: float | None = None
    clinically_meaningful: float | None = None
    source: str


class Instrument(_Model):
    """A standard instrument (PHQ-9, GAD-7, ...) as data: items, scores, bands and risk
    rules.
    """

    code: str
    version: str
    name: str
    informant: Literal["self", "parent", "teacher", "clinician"]
    age_min: int | None = None
    age_max: int | None = None
    recall_period: str
    source: str
    licence: str
    notes: str | None = None
    scales: dict[str, list[AnswerOption]]
    items: list[Item]
    scores: list[Score]
    primary_score: str
    default_norm: str | None = None
    risk_rules: list[RiskRule] = Field(default_factory=list)
    change: ChangeRule | None = None

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    @model_validator(mode="after")
    def _consistent(self) -> Instrument:
        item_ids = [i.id for i in self.items]
        if len(set(item_ids)) != len(item_ids):
            raise ValueError(f"{self.code}: duplicate item ids")
        score_ids = [s.id for s in self.scores]
        for item in self.items:
            if item.scale not in self.scales:
                raise ValueError(f"{self.code}: item {item.id} has unknown scale")
        seen: set[str] = set()
        for s in self.scores:  # components must be defined earlier
            unknown = set(s.items) - set(item_ids) or set(s.components) - seen
            if unknown:
                raise ValueError(f"{self.code}: score {s.id} refers to {unknown}")
            seen.add(s.id)
            for norm, bands in s.bands.items():
                _check_bands(self.code, s.id, norm, bands)
        if self.primary_score not in score_ids:
            raise ValueError(f"{self.code}: unknown primary score")
        for rule in self.risk_rules:
            if rule.item not in item_ids:
                raise ValueError(f"{self.code}: risk rule on unknown item")
        if self.change and self.change.score not in score_ids:
            raise ValueError(f"{self.code}: change rule on unknown score")
        return self

    def item(self, item_id: str) -> Item:
        return next(i for i in self.items if i.id == item_id)

    def score_def(self, score_id: str) -> Score:
        return next(s for s in self.scores if s.id == score_id)


def _check_bands(code: str, score: str, norm: str, bands: list[Band]) -> None:
    """Bands must be ordered and must not overlap."""
    for lower, upper in zip(bands, bands[1:], strict=False):
        if not lower.max < upper.min:
            raise ValueError(f"{code}.{score}[{norm}]: bands overlap")


class ResponseError(_Model):
    """One problem with the submitted answers, located by item id."""

    item: str
    msg: str
    type: str


@dataclass(frozen=True)
class ScoreResult:
    instrument: str
    scores: dict[str, float | None]
    bands: dict[str, str | None]
    norm: str | None
    risk_flags: list[str]
    missing_items: list[str]
    errors: list[ResponseError] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors


@cache
def instruments() -> dict[str, Instrument]:
    """Every packaged definition by ``code@version`` (read once)."""
    folder = resources.files("shared.instruments").joinpath("definitions")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            definition = Instrument.model_validate(json.loads(entry.read_text()))
            if entry.name != f"{definition.key}.json":
                raise ValueError(f"{entry.name} must be named {definition.key}.json")
            found[definition.key] = definition
    return found


def get_instrument(code: str, version: str | None = None) -> Instrument | None:
    """A definition by code and version; without a version, the newest."""
    if version is not None:
        return instruments().get(f"{code}@{version}")
    versions = [i for i in instruments().values() if i.code == code]
    return max(versions, key=lambda i: _version_key(i.version), default=None)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def score(
    instrument: Instrument,
    responses: dict[str, int | None],
    norm: str | None = None,
) -> ScoreResult:
    """Validate every answer against its scale, then compute every score, its
    band and the risk flags. Errors make the whole result invalid."""
    errors: list[ResponseError] = []
    known = {i.id for i in instrument.items}
    for item_id in responses:
        if item_id not in known:
            errors.append(
                ResponseError(item=item_id, msg="unknown item", type="unknown_item")
            )
    values: dict[str, int] = {}
    for item in instrument.items:
        answer = responses.get(item.id)
        if answer is None:
            continue
        allowed = [o.value for o in instrument.scales[item.scale]]
        if type(answer) is not int or answer not in allowed:
            errors.append(
                ResponseError(
                    item=item.id,
                    msg=f"must be one of {allowed}",
                    type="out_of_scale",
                )
            )
            continue
        values[item.id] = (
            (min(allowed) + max(allowed) - answer) if item.reverse else answer
        )
    scored = {i for s in instrument.scores for i in s.items}
    missing = [  # optional items (in no score) are never missing
        i.id for i in instrument.items if i.id in scored and responses.get(i.id) is None
    ]
    invalid = {e.item for e in errors}
    norm = norm or instrument.default_norm
    scores: dict[str, float | None] = {}
    for definition in instrument.scores:
        value, error = _compute(definition, values, invalid, scores)
        scores[definition.id] = value
        if error:
            errors.extend(error)
    bands = {s.id: _band(s, scores[s.id], norm) for s in instrument.scores if s.bands}
    risk = sorted(
        {
            rule.flag
            for rule in instrument.risk_rules
            if rule.item in values and rule.raised_by(responses[rule.item] or 0)
        }
    )
    return ScoreResult(
        instrument=instrument.key,
        scores=scores,
        bands=bands,
        norm=norm,
        risk_flags=risk,
        missing_items=missing,
        errors=errors,
    )


def _compute(
    definition: Score,
    values: dict[str, int],
    invalid: set[str],
    earlier: dict[str, float | None],
) -> tuple[float | None, list[ResponseError]]:
    if definition.components:
        parts = [earlier[c] for c in definition.components]
        if any(p is None for p in parts):
            return None, []
        return _round(
            sum(p for p in parts if p is not None) * definition.multiplier
        ), []
    answered = [values[i] for i in definition.items if i in values]
    lacking = [i for i in definition.items if i not in values]
    if len(lacking) > definition.missing.max_missing:
        return None, [  # invalid answers are reported once, as invalid
            ResponseError(
                item=i,
                msg=f"needed for {definition.name}",
                type="missing",
            )
            for i in lacking
            if i not in invalid
        ]
    total = Decimal(sum(answered))
    if lacking and definition.missing.prorate:  # the mean times the item count,
        total = (total / len(answered) * len(definition.items)).quantize(
            Decimal("1"), rounding=ROUND_HALF_UP
        )  # rounded half-up to a whole score, as the SDQ syntax does
    return _round(total * Decimal(str(definition.multiplier))), []


def _round(value: Decimal | float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _band(definition: Score, value: float | None, norm: str | None) -> str | None:
    if value is None or norm is None or norm not in definition.bands:
        return None
    for band in definition.bands[norm]:
        if band.min <= value <= band.max:
            return band.label
    return None


def assess_change(
    instrument: Instrument, baseline: float, latest: float
) -> dict[str, object]:
    """Change from baseline to latest on the change score, and whether it is
    reliable and clinically meaningful where the instrument defines it."""
    rule = instrument.change
    change = _round(latest - baseline)
    if rule is None:
        return {
            "change": change,
            "improved": None,
            "reliable": None,
            "meaningful": None,
        }
    improvement = -change if rule.better == "lower" else change
    return {
        "change": change,
        "improved": improvement > 0,
        "reliable": None
        if rule.reliable_change is None
        else improvement >= rule.reliable_change,
        "meaningful": None
        if rule.clinically_meaningful is None
        else improvement >= rule.clinically_meaningful,
    }
