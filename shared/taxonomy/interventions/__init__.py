"""Structured interventions as data (PM+, Group PM+, Group IPT ...): their
sessions and phases, the activity each session records, the completion rule
and the follow-up windows for outcome measures. Adding one is a JSON file."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.taxonomy.activities import ActivityKind, get_activity


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Session(_Model):
    """One session of an intervention's protocol."""

    number: int = Field(ge=0)
    phase: str
    title: str
    activity: str


class Completion(_Model):
    """The share of sessions that counts as completing an intervention."""

    min_share: float = Field(gt=0, le=1, description="Share of sessions attended.")


class FollowUpWindow(_Model):
    """A window after an intervention ends in which a follow-up is due."""

    name: str
    from_days: int = Field(ge=0, description="Days after the last session attended.")
    to_days: int


class Intervention(_Model):
    """A structured intervention's protocol: sessions, completion and follow-up."""

    code: str
    version: str
    name: str
    delivery: Literal["individual", "group", "mixed"]
    source: str
    sessions: list[Session] = Field(min_length=1)
    completion: Completion
    follow_up_windows: list[FollowUpWindow] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"

    @model_validator(mode="after")
    def _sessions(self) -> Intervention:
        numbers = [s.number for s in self.sessions]
        if numbers != sorted(set(numbers)):
            raise ValueError(f"{self.code}: session numbers must be unique, ascending")
        for s in self.sessions:
            if get_activity(s.activity) is None:
                raise ValueError(f"{self.code}: unknown activity {s.activity}")
        return self

    def session(self, number: int) -> Session | None:
        return next((s for s in self.sessions if s.number == number), None)

    def is_group_session(self, number: int) -> bool:
        session = self.session(number)
        activity = get_activity(session.activity) if session else None
        return activity is not None and activity.kind == ActivityKind.group


@cache
def interventions() -> dict[str, Intervention]:
    folder = resources.files("shared.taxonomy.interventions")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            definition = Intervention.model_validate(json.loads(entry.read_text()))
            found[definition.key] = definition
    return found


def get_intervention(code: str, version: str | None = None) -> Intervention | None:
    if version is not None:
        return interventions().get(f"{code}@{version}")
    matches = sorted(
        (i for i in interventions().values() if i.code == code), key=lambda i: i.version
    )
    return matches[-1] if matches else None
