"""Short satisfaction and feedback forms as data (one JSON file per form and
version): who answers them (programme participants or trainees) and their
items, each on a scale of 1 to 5 or yes/no. No item takes free text, so no
answer can carry a name or a story into reporting. Adding a form, or a new
version of one, is a JSON file; an item code keeps its meaning across
versions so reports can add them up.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)

SATISFIED_FROM = 4
"""On the 1–5 scale, 4 (satisfied) and 5 (very satisfied) count as satisfied."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedbackItem(_Model):
    """One question of a form and its scale."""

    code: str = Field(pattern=r"^[a-z0-9_]{2,64}$")
    text: str = Field(description="The question in English.")
    scale: Literal["1-5", "yes_no"]


class FeedbackForm(_Model):
    """A short form: who answers it, and its items."""

    code: str = Field(pattern=r"^[a-z0-9_]{2,64}$")
    version: str
    name: str
    audience: Literal["participant", "trainee"]
    items: list[FeedbackItem] = Field(min_length=1, max_length=20)

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    @model_validator(mode="after")
    def _unique_items(self) -> FeedbackForm:
        codes = [item.code for item in self.items]
        if len(set(codes)) != len(codes):
            raise ValueError(f"{self.code}: an item code is given twice")
        return self

    def problems(self, answers: dict[str, int | bool]) -> list[str]:
        """What is wrong with a set of answers (none: they fit the form).
        Items may be skipped, but at least one must be answered."""
        scales = {item.code: item.scale for item in self.items}
        found = [] if answers else ["answer at least one item"]
        for code, value in answers.items():
            scale = scales.get(code)
            if scale is None:
                found.append(f"{code}: not an item of {self.key}")
            elif scale == "yes_no" and not isinstance(value, bool):
                found.append(f"{code}: answer true or false")
            elif scale == "1-5" and (
                isinstance(value, bool) or not 1 <= int(value) <= 5
            ):
                found.append(f"{code}: answer a whole number from 1 to 5")
        return found


Answers = Annotated[
    dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{2,64}$")],
        StrictBool | StrictInt,
    ],
    Field(
        min_length=1,
        max_length=20,
        description="Item code: a whole number from 1 to 5, or true/false for "
        "a yes/no item. Items may be skipped; no free text.",
    ),
]
FormKey = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9_]{2,64}@[0-9.]{1,10}$"),
    Field(description="A form of GET /v1/feedback-forms, as code@version."),
]


def check_answers(
    key: str, answers: dict[str, int | bool], audience: str
) -> dict[str, int | bool]:
    """``answers`` if they fit the form ``key`` for this ``audience``; a
    ``ValueError`` naming every problem otherwise (a 422 in a request)."""
    form = feedback_forms().get(key)
    if form is None:
        raise ValueError(f"unknown form {key!r}: see GET /v1/feedback-forms")
    if form.audience != audience:
        raise ValueError(f"{key} is a form for {form.audience}s")
    problems = form.problems(answers)
    if problems:
        raise ValueError("; ".join(problems))
    return answers


def rating(scale: str, value: int | bool) -> float | None:
    """An answer on the 1–5 scale as a number; None for yes/no items."""
    return None if scale == "yes_no" else float(value)


def satisfied(scale: str, value: int | bool) -> bool:
    """Yes, or 4 or 5 on the 1–5 scale."""
    return bool(value) if scale == "yes_no" else int(value) >= SATISFIED_FROM


@cache
def feedback_forms() -> dict[str, FeedbackForm]:
    """Every form by ``code@version``."""
    found = {}
    for entry in resources.files(__name__).iterdir():
        if entry.name.endswith(".json"):
            form = FeedbackForm.model_validate(json.loads(entry.read_text()))
            if f"{form.key}.json" != entry.name:
                raise ValueError(f"{entry.name}: names {form.key}")
            found[form.key] = form
    return dict(sorted(found.items()))


def form_codes() -> list[str]:
    """The forms' codes (any version), as reports name them."""
    return sorted({form.code for form in feedback_forms().values()})


def item_codes() -> list[str]:
    """Every item code of every form, as reports name them."""
    return sorted({i.code for form in feedback_forms().values() for i in form.items})
