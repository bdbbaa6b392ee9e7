"""The one way a list names a period: ``start`` and ``end``, both inclusive.
Older names (``date_from``/``date_to``, ``since``/``until``) are read until
their sunset (shared.deprecation)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Query

from shared.deprecation import renamed_to

StartDate = Annotated[date | None, Query(description="First day, inclusive.")]
EndDate = Annotated[date | None, Query(description="Last day, inclusive.")]
StartTime = Annotated[datetime | None, Query(description="First instant, inclusive.")]
EndTime = Annotated[datetime | None, Query(description="Last instant, inclusive.")]
OldStartDate = Annotated[date | None, renamed_to("start")]
OldEndDate = Annotated[date | None, renamed_to("end")]
OldStartTime = Annotated[datetime | None, renamed_to("start")]
OldEndTime = Annotated[datetime | None, renamed_to("end")]
