"""A per-process columnar copy of the fact tables, for fast exact answers.

PostgreSQL (or SQLite) holds the facts; this copy holds them as NumPy
columns indexed by each row's integer ``key``, so an indicator over a million
service records is a few vectorised passes instead of a GROUP BY with
COUNT(DISTINCT). It is brought up to date before every query by loading only
rows whose ingestion ``seq`` is newer than what it holds: ingestions commit in
``seq`` order (see ``ingest/fold.py``), so once the counter reads N every row
changed by ingestions up to N is visible, and loading ``last < seq <= N``
misses nothing. Each API process has its own copy; all read the same facts.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from numpy.typing import NDArray
from sqlalchemy import BigInteger, func, select, text
from sqlalchemy import Table as CoreTable
from sqlalchemy import column as sql_column
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col

from services.reporting.facts.models import (
    ActionPointFact,
    AssessmentFact,
    AttendanceFact,
    BeneficiaryFact,
    CapacityFact,
    CapacityScoreFact,
    CaseFact,
    CaseProblemFact,
    CompetencyFact,
    EnrolmentFact,
    FeedbackFact,
    GroupActivityFact,
    GroupParticipationFact,
    GroupSeriesFact,
    IngestCounter,
    InterventionSessionFact,
    LocationDim,
    MaterialFact,
    MentoringVisitFact,
    OrganisationDim,
    PartnerMappingFact,
    PracticeSessionFact,
    ProjectFact,
    ReferralFact,
    ResultFact,
    RiskAlertFact,
    SelectionFact,
    ServiceFact,
    ServiceTopicFact,
    StoreSnapshot,
    SupervisionFact,
    TeamFact,
    TraineeFact,
)
from shared.db import autocommit, utcnow

EPOCH = date(1970, 1, 1).toordinal()
NO_DATE = np.iinfo(np.int32).min
NO_INT = -1
LOAD_CHUNK = 50_000
LOAD_PARTS = 1
"""Connections a bulk load reads a table's distinct values on at once: on 2
cores one, which ends with the COPY it runs beside (two made three busy
backends and the process compete, and twice the rows back: 10M lines were
ready about 6 s later)."""
HASHES = {"UUID": "uuid_hash", "VARCHAR": "hashtext"}
"""PostgreSQL's 32-bit hash of a categorical column's type, by type."""
RECODE_CHUNK = 1 << 20

log = structlog.get_logger(__name__)


def _hashed(value: str, function: str | None) -> str:
    """SQL for a value's 32-bit hash (an int4: a COPY sends half the bytes
    of an int8) with its two low bits 01: never 0 (the code for none) nor
    -1 (a frame's sentinel)."""
    return f"({function}({value}) & -4 | 1)" if function else "0"


def _hash_function(table: CoreTable, name: str, dialect: Any) -> str | None:
    """PostgreSQL's 32-bit hash function for a column's type, if it has one."""
    return HASHES.get(table.c[name].type.compile(dialect=dialect).split("(")[0])


def _recode(
    column: NDArray[np.int32], hashes: NDArray[np.int32], codes: NDArray[np.int32]
) -> bool:
    """Replace, in place, a column's values' hashes (their low 32 bits, all
    different: ``hashes``) by their ``codes``; 0 (none) and -1 (no row)
    become -1. False if a value is neither."""
    order = np.argsort(hashes)
    known, codes = hashes[order], codes[order]
    for start in range(0, len(column), RECODE_CHUNK):  # bounded temporaries
        part = column[start : start + RECODE_CHUNK]
        if len(known) == 0:
            if not ((part == 0) | (part == -1)).all():
                return False
            part[:] = -1
            continue
        at = np.searchsorted(known, part)
        np.minimum(at, len(known) - 1, out=at)
        hit = known[at] == part
        if not (hit | (part == 0) | (part == -1)).all():
            return False
        part[:] = np.where(hit, codes[at], -1)
    return True


def day_number(day: date) -> int:
    return day.toordinal() - EPOCH


def from_day_number(number: int) -> date:
    return date.fromordinal(number + EPOCH)


class Vocabulary:
    """Categorical values as small integer codes (-1 for none)."""

    def __init__(self) -> None:
        self.codes: dict[Any, int] = {}
        self.values: list[Any] = []

    def code(self, value: Any) -> int:
        if value is None:
            return -1
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.values)
            self.values.append(value)
        return found

    def lookup(self, value: Any) -> int | None:
        return self.codes.get(value)


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # cat | date | int | float | bool | obj


@dataclass
class Frame:
    """One fact table as columns; row ``i`` is the fact whose key is ``i``."""

    table: CoreTable
    columns: Sequence[Column]
    size: int = 0
    present: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    data: dict[str, Any] = field(default_factory=dict)
    vocab: dict[str, Vocabulary] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for column in self.columns:
            self.data[column.name] = self._empty(column, 0)
            if column.kind == "cat":
                self.vocab[column.name] = Vocabulary()

    @staticmethod
    def _empty(column: Column, n: int) -> Any:
        if column.kind == "cat" or column.kind == "int":
            return np.full(n, NO_INT, np.int32)
        if column.kind == "date":
            return np.full(n, NO_DATE, np.int32)
        if column.kind == "float":
            return np.full(n, np.nan, np.float64)
        if column.kind == "bool":
            return np.zeros(n, np.bool_)
        return [None] * n

    def _grow(self, needed: int) -> None:
        """Room for ``needed`` rows and an eighth more, as a snapshot has
        (``snapshot.HEADROOM``): doubling left a 10M-row frame with up to
        twice the memory its rows take."""
        if needed <= len(self.present):
            return
        self.reserve(max(needed + needed // 8, 1024))

    def reserve(self, capacity: int) -> None:
        """Make the columns ``capacity`` rows long (never shorter): a bulk
        load that knows its last key sizes each column once, without the
        copies of growing by steps."""
        extra = capacity - len(self.present)
        if extra <= 0:
            return
        empty = len(self.present) == 0  # nothing to copy: no concatenation
        self.present = np.concatenate([self.present, np.zeros(extra, bool)])
        for column in self.columns:
            old = self.data[column.name]
            if column.kind == "obj":
                old.extend([None] * extra)
            elif empty:
                self.data[column.name] = self._empty(column, extra)
            else:
                self.data[column.name] = np.concatenate(
                    [old, self._empty(column, extra)]
                )

    def load(self, rows: Sequence[Sequence[Any]]) -> None:
        """Rows are (key, *columns) in ``self.columns`` order."""
        if not rows:
            return
        keys = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        values: dict[str, Any] = {}
        for i, column in enumerate(self.columns, start=1):
            found = [r[i] for r in rows]
            if column.kind == "cat":
                code = self.vocab[column.name].code
                values[column.name] = np.fromiter(
                    (code(v) for v in found), np.int32, len(found)
                )
            elif column.kind == "date":
                values[column.name] = np.fromiter(
                    (NO_DATE if v is None else day_number(v) for v in found),
                    np.int32,
                    len(found),
                )
            elif column.kind == "int":
                values[column.name] = np.fromiter(
                    (NO_INT if v is None else v for v in found), np.int32, len(found)
                )
            elif column.kind == "float":
                values[column.name] = np.fromiter(
                    (np.nan if v is None else v for v in found),
                    np.float64,
                    len(found),
                )
            elif column.kind == "bool":
                values[column.name] = np.fromiter(
                    (bool(v) for v in found), bool, len(found)
                )
            else:
                values[column.name] = found
        self.put(keys, values)

    def put(self, keys: NDArray[np.int64], values: dict[str, Any]) -> None:
        """Rows by key: each column's values in ``keys`` order, encoded
        (codes, day numbers, sentinels for none) or, for ``obj``, a list;
        a column not in ``values`` keeps what it holds."""
        if len(keys) == 0:
            return
        self._grow(int(keys.max()) + 1)
        self.size = max(self.size, int(keys.max()) + 1)
        self.present[keys] = True
        for column in self.columns:
            if column.name not in values:
                continue
            target = self.data[column.name]
            if column.kind == "obj":
                for k, v in zip(keys.tolist(), values[column.name], strict=True):
                    target[k] = v
            else:
                target[keys] = values[column.name]

    @property
    def numeric(self) -> bool:
        """Every column can travel as a number (no ``obj`` column)."""
        return all(column.kind != "obj" for column in self.columns)

    def col(self, name: str) -> Any:
        """A column cut to the rows that exist."""
        return self.data[name][: self.size]


def _frame(model: type[Any], spec: str) -> Frame:
    columns = []
    for item in spec.split():
        name, kind = item.split(":")
        columns.append(Column(name, kind))
    return Frame(model.__table__, columns)


def new_frames() -> dict[str, Frame]:
    return {
        "services": _frame(
            ServiceFact,
            "alive:bool anonymous:bool beneficiary_key:int organisation_id:cat "
            "lead_organisation_id:cat delivered_through:cat activity_code:cat "
            "iasc_layer:cat service_date:date site_id:cat modality:cat "
            "staff_id:cat people:int sex:cat age_group:cat disability:cat "
            "age_at_service:int team_id:cat delivery_mode:cat project_id:cat "
            "series_id:cat group_activity_id:cat topic_code:cat language:cat",
        ),
        "beneficiaries": _frame(
            BeneficiaryFact,
            "position:int erased:bool organisation_id:cat site_id:cat sex:cat "
            "birth_year:int marital_status:cat disability:cat "
            "displacement_status:cat registration_date:date "
            "registration_channel:cat age_at_registration:int nationality:cat",
        ),
        "group_activities": _frame(
            GroupActivityFact,
            "alive:bool organisation_id:cat lead_organisation_id:cat "
            "delivered_through:cat activity_code:cat unit:cat iasc_layer:cat "
            "held_on:date site_id:cat modality:cat duration_minutes:int "
            "attendees:int series_id:cat topic_code:cat language:cat "
            "team_id:cat delivery_mode:cat project_id:cat",
        ),
        "group_series": _frame(
            GroupSeriesFact,
            "alive:bool organisation_id:cat activity_code:cat topic_code:cat "
            "site_id:cat planned_sessions:int starts_on:date series_id:cat",
        ),
        "group_participation": _frame(
            GroupParticipationFact,
            "alive:bool organisation_id:cat lead_organisation_id:cat "
            "delivered_through:cat activity_code:cat unit:cat held_on:date "
            "site_id:cat modality:cat participant_organisation_id:cat "
            "participants:int team_id:cat delivery_mode:cat project_id:cat",
        ),
        "referrals": _frame(
            ReferralFact,
            "beneficiary_key:int organisation_id:cat site_id:cat kind:cat "
            "area:cat status:cat sent_on:date",
        ),
        "cases": _frame(
            CaseFact,
            "beneficiary_key:int organisation_id:cat site_id:cat status:cat "
            "risk_level:cat iasc_layer_needed:cat opened_on:date closed_on:date",
        ),
        "case_problems": _frame(
            CaseProblemFact,
            "alive:bool beneficiary_key:int organisation_id:cat site_id:cat "
            "problem:cat status:cat opened_on:date",
        ),
        "service_topics": _frame(
            ServiceTopicFact,
            "alive:bool beneficiary_key:int record_id:cat organisation_id:cat "
            "lead_organisation_id:cat activity_code:cat site_id:cat team_id:cat "
            "project_id:cat topic:cat language:cat service_date:date",
        ),
        "risk_alerts": _frame(
            RiskAlertFact,
            "organisation_id:cat site_id:cat risk_type:cat raised_on:date "
            "acknowledged:bool acknowledged_on:date",
        ),
        "assessments": _frame(
            AssessmentFact,
            "case_id:cat beneficiary_key:int organisation_id:cat instrument:cat "
            "timepoint:cat administered_on:date scores:obj",
        ),
        "enrolments": _frame(
            EnrolmentFact,
            "beneficiary_key:int organisation_id:cat site_id:cat intervention:cat "
            "status:cat enrolled_on:date status_on:date sessions_attended:int "
            "sessions_planned:int completed:bool problem_area:cat",
        ),
        "intervention_sessions": _frame(
            InterventionSessionFact,
            "alive:bool beneficiary_key:int organisation_id:cat site_id:cat "
            "intervention:cat held_on:date",
        ),
        "trainees": _frame(
            TraineeFact,
            "trainee_id:cat organisation_id:cat audience:cat sex:cat staff_id:cat "
            "affiliation_organisation_id:cat",
        ),
        "attendance": _frame(
            AttendanceFact,
            "trainee_id:cat organisation_id:cat held_on:date hours:float "
            "present:bool session_id:cat course_id:cat course_approach:cat "
            "course_level:cat modality:cat site_id:cat topic_code:cat "
            "partner_organisation_id:cat project_id:cat",
        ),
        "capacity": _frame(
            CapacityFact,
            "alive:bool trainee_id:cat organisation_id:cat component:cat held_on:date "
            "project_id:cat",
        ),
        "results": _frame(
            ResultFact,
            "trainee_id:cat organisation_id:cat course_id:cat course_level:cat "
            "decided_on:date "
            "completed:bool certified:bool competency_level:int project_id:cat",
        ),
        "competency": _frame(
            CompetencyFact,
            "trainee_id:cat organisation_id:cat assessed_on:date overall_level:int",
        ),
        "practice": _frame(
            PracticeSessionFact,
            "organisation_id:cat held_on:date phase:cat clients_attended:int "
            "recorded:bool adherence_score:float group_session_id:cat",
        ),
        "supervision": _frame(
            SupervisionFact,
            "organisation_id:cat held_on:date duration_minutes:int supervisee_ids:obj "
            "purpose:cat",
        ),
        "mapping": _frame(
            PartnerMappingFact,
            "organisation_id:cat mapped_organisation_id:cat location_id:cat "
            "conducted_on:date",
        ),
        "capacity_score": _frame(
            CapacityScoreFact,
            "organisation_id:cat assessed_organisation_id:cat tool:cat "
            "timepoint:cat assessed_on:date domain:cat score:float project_id:cat",
        ),
        "selection": _frame(
            SelectionFact,
            "organisation_id:cat candidate_organisation_id:cat decided_on:date "
            "selected:bool score:float score_band:cat reason:cat",
        ),
        "mentoring": _frame(
            MentoringVisitFact,
            "organisation_id:cat mentored_organisation_id:cat held_on:date "
            "mode:cat duration_minutes:int participants:int action_points:int "
            "project_id:cat",
        ),
        "materials": _frame(
            MaterialFact,
            "alive:bool organisation_id:cat lead_organisation_id:cat "
            "item_code:cat quantity:int "
            "language:cat distributed_on:date activity_code:cat site_id:cat "
            "team_id:cat project_id:cat",
        ),
        "feedback": _frame(
            FeedbackFact,
            "alive:bool organisation_id:cat lead_organisation_id:cat "
            "response_id:cat form:cat item:cat rating:float satisfied:bool "
            "answered_on:date activity_code:cat course_id:cat site_id:cat "
            "team_id:cat project_id:cat",
        ),
        "action_points": _frame(
            ActionPointFact,
            "organisation_id:cat mentored_organisation_id:cat due_on:date "
            "completed:bool completed_on:date project_id:cat",
        ),
    }


@dataclass
class Places:
    """Location hierarchy and organisation names, for labels and roll-ups."""

    names: dict[uuid.UUID, str] = field(default_factory=dict)
    """English names, the fallback of ``place_name``."""
    translated: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    pcodes: dict[uuid.UUID, str | None] = field(default_factory=dict)
    level: dict[uuid.UUID, str] = field(default_factory=dict)
    parent: dict[uuid.UUID, uuid.UUID | None] = field(default_factory=dict)
    organisations: dict[uuid.UUID, str] = field(default_factory=dict)
    lead: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    teams: dict[uuid.UUID, str] = field(default_factory=dict)
    projects: dict[uuid.UUID, str] = field(default_factory=dict)
    """Project names (from ``project.saved``), to label breakdowns by project."""
    project_members: dict[uuid.UUID, frozenset[uuid.UUID]] = field(default_factory=dict)
    """The organisations taking part in each project: its lead and partners."""

    def with_partners(self, organisations: frozenset[uuid.UUID]) -> set[uuid.UUID]:
        """Organisations and the implementing partners they lead."""
        return set(organisations) | {
            partner for partner, lead in self.lead.items() if lead in organisations
        }

    def place_name(self, place: uuid.UUID, language: str) -> str | None:
        """The place's name in ``language`` (a code such as ``ar``), else
        its English name: reports speak the reader's language where the
        gazetteer has the name in it."""
        return self.translated.get(place, {}).get(language) or self.names.get(place)

    def ancestor(self, place: uuid.UUID | None, level: str) -> uuid.UUID | None:
        seen = 0
        while place is not None and seen < 8:
            if self.level.get(place) == level:
                return place
            place = self.parent.get(place)
            seen += 1
        return None


def _log_failure(task: asyncio.Task[bool]) -> None:
    """A snapshot that could not be written costs only the next start's
    speed: say so, and go on answering from memory."""
    if not task.cancelled() and task.exception() is not None:
        log.error("reporting_snapshot_failed", exc_info=task.exception())


@dataclass(frozen=True)
class Snapshots:
    """Where the store's snapshots live and how often a process may write
    one (``REPORTING_SNAPSHOT_DIR``, see ``engine/snapshot.py``)."""

    directory: Path
    every_seconds: float = 300.0
    check_seconds: float = 60.0
    """How often an API process checks that no snapshot on disk predates
    the last erasure (``check_snapshot``), and the least time before a
    failed write is tried again."""


class FactStore:
    """The process's columnar copy; ``refresh`` before reading."""

    def __init__(self, engine: AsyncEngine, snapshots: Snapshots | None = None) -> None:
        self.engine = engine
        self._reads = autocommit(engine)
        self.frames = new_frames()
        self.seq = 0
        self.places = Places()
        self.derived: dict[tuple[Any, ...], Any] = {}
        """What queries derive from the columns (dimensions), kept until the
        columns change."""
        self._lock = asyncio.Lock()
        self.snapshots = snapshots
        self.started_from: str | None = None
        """``snapshot`` or ``database``: how the first refresh found the
        frames (for logs and tests)."""
        self._snapshot_seq = -1
        """The ``seq`` of the snapshot this process mapped or wrote last."""
        self._mapped_seq: int | None = None
        """The ``seq`` of the snapshot whose files the frames map, if any."""
        self._written_at = -math.inf
        self._failed_at = -math.inf
        """When a write last failed (a full disk): tried again, if an
        erasure is pending, once ``check_seconds`` have passed."""
        self._writing: asyncio.Task[bool] | None = None

    async def _head(self) -> tuple[int, int]:
        """The ingestion head and the ``seq`` of the last erasure."""
        async with self._reads.connect() as conn:
            row = (
                await conn.execute(
                    select(col(IngestCounter.seq), col(IngestCounter.erased_seq))
                )
            ).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def refresh(self) -> None:
        """Bring the frames up to the ingestion head. Readers compute without
        awaiting after this returns, so they never see a load halfway: a
        reader that finds a refresh under way waits for it to end."""
        head, erased = await self._head()
        started = self.started_from is not None
        if head <= self.seq and started and not self._lock.locked():
            if self._snapshot_seq < erased:  # a write after an erasure failed
                self._consider_writing(erased)
            return  # no await from here to the caller's reading
        async with self._lock:  # wait out a refresh halfway through the frames
            if self.started_from is None:
                await self._start(head, erased)
            if head <= self.seq:
                self._consider_writing(erased)
                return
            if self._writing is not None:  # it reads the frames: let it end
                await asyncio.wait([self._writing])
            self.derived.clear()  # a load that fails halfway leaves none stale
            await self._load(head)
            self.derived.clear()
            self.seq = head
            if self._mapped_seq is not None and self._mapped_seq < erased:
                await self._leave_old_mapping(head, erased)
            self._consider_writing(erased)

    async def _leave_old_mapping(self, head: int, erased: int) -> None:
        """The frames map a snapshot older than an erasure, whose files are
        (or are about to be) removed but stay on disk while mapped: map the
        current snapshot instead if it is sound and after the erasure,
        catching up as a start does; else copy the frames into this
        process's memory."""
        held = self.frames, self.seq, self._mapped_seq
        if await self._open_snapshot(head, erased):
            try:
                await self._load(head)
            except BaseException:
                self.frames, self.seq, self._mapped_seq = held
                self.derived.clear()
                raise
            self.derived.clear()
            self.seq = head
            log.info("reporting_snapshot_remapped", seq=self._mapped_seq)
            return
        for frame in self.frames.values():
            frame.present = np.array(frame.present)
            for column in frame.columns:
                if column.kind != "obj":
                    frame.data[column.name] = np.array(frame.data[column.name])
        self._mapped_seq = None
        self.derived.clear()
        log.info("reporting_snapshot_unmapped", erased_seq=erased)

    async def _start(self, head: int, erased: int) -> None:
        """The first refresh: map the snapshot when there is a sound one,
        else load everything from the database."""
        self.started_from = "database"
        if self.snapshots is None:
            return
        if await self._open_snapshot(head, erased):
            self.started_from = "snapshot"
            if self.seq >= head:  # else the catch-up's load reads them
                async with self.engine.connect() as conn:
                    await self._load_places(conn)

    async def _open_snapshot(self, head: int, erased: int) -> bool:
        """Map the current snapshot if this database wrote it (its mark at
        its ``seq``), it is not ahead of the database, and no erasure came
        after it; otherwise say why in the log and load from the database."""
        from services.reporting.engine import snapshot

        assert self.snapshots is not None
        directory = self.snapshots.directory
        try:
            found = await asyncio.to_thread(snapshot.read, directory, self.frames)
            if found is None:
                log.info("reporting_snapshot_absent", directory=str(directory))
                return False
            if found.seq > head:
                raise snapshot.SnapshotRefused(
                    f"at seq {found.seq}, ahead of the database's {head}"
                )
            if found.seq < erased:
                await self.discard_stale(erased)  # no one may map it: remove it
                raise snapshot.SnapshotRefused(
                    f"at seq {found.seq}, before an erasure at {erased}"
                )
            async with self.engine.connect() as conn:
                known = (
                    await conn.execute(
                        select(col(StoreSnapshot.seq)).where(
                            col(StoreSnapshot.mark) == found.mark
                        )
                    )
                ).scalar()
            if known != found.seq:
                raise snapshot.SnapshotRefused(
                    f"mark {found.mark} at seq {found.seq} unknown to this database"
                )
        except snapshot.SnapshotRefused as refused:
            log.warning(
                "reporting_snapshot_refused",
                directory=str(directory),
                reason=str(refused),
            )
            return False
        self.frames = found.frames
        self.seq = self._mapped_seq = found.seq
        self._snapshot_seq = max(self._snapshot_seq, found.seq)
        self._written_at = time.monotonic()  # as fresh as if written here
        self.derived.clear()
        log.info("reporting_snapshot_mapped", path=str(found.path), seq=found.seq)
        return True

    def _consider_writing(self, erased: int) -> None:
        """Start writing a snapshot when this process holds newer frames than
        the last one it knows of and either enough time has passed or that
        one predates an erasure (its files hold what was erased)."""
        if self.snapshots is None or self.seq <= self._snapshot_seq:
            return
        if self._writing is not None and not self._writing.done():
            return
        now = time.monotonic()
        due = now - self._written_at >= self.snapshots.every_seconds
        retry = now - self._failed_at >= self.snapshots.check_seconds
        if due or (self._snapshot_seq < erased and retry):
            self._writing = asyncio.create_task(self.write_snapshot())
            self._writing.add_done_callback(_log_failure)

    async def settled(self) -> None:
        """Wait for a snapshot being written, if any; raise what failed it."""
        if self._writing is not None:
            await asyncio.wait([self._writing])
            failed = self._writing.exception()
            if failed is not None:
                raise failed

    async def write_snapshot(self) -> bool:
        """Write the frames as the current snapshot (in a thread; refreshes
        wait for it, readers do not), then map it in place of this process's
        own copy so that this process shares the page cache too. False when
        another process writes or has written one at least as new."""
        from services.reporting.engine import snapshot

        assert self.snapshots is not None
        self._written_at = time.monotonic()
        mark, seq = uuid.uuid4(), self.seq
        table: CoreTable = StoreSnapshot.__table__  # type: ignore[attr-defined]
        async with self.engine.begin() as conn:
            await conn.execute(
                table.insert().values(mark=mark, seq=seq, written_at=utcnow())
            )
            known = {
                row.mark: row.seq
                for row in await conn.execute(select(table.c.mark, table.c.seq))
            }
        directory = self.snapshots.directory
        try:
            written = await asyncio.to_thread(
                snapshot.write, directory, self.frames, seq, mark, known
            )
        except OSError as error:
            log.warning(
                "reporting_snapshot_not_written",
                directory=str(directory),
                reason=str(error),
            )
            async with self.engine.begin() as conn:
                await conn.execute(table.delete().where(table.c.mark == mark))
            self._failed_at = time.monotonic()
            await self.discard_stale()  # what predates an erasure goes anyway
            return False
        removed = [mark] if written is None else written[1]
        async with self.engine.begin() as conn:
            await conn.execute(table.delete().where(table.c.mark.in_(removed)))
        if written is None:  # another process writes or wrote one as new
            self._snapshot_seq = max(self._snapshot_seq, seq)
            return False
        self._snapshot_seq = seq
        log.info("reporting_snapshot_written", path=str(written[0]), seq=seq)
        if self.seq == seq:  # map what was written: one copy per machine
            adopted = await asyncio.to_thread(snapshot.read, directory, self.frames)
            if adopted is not None and adopted.mark == mark:
                self.frames = adopted.frames
                self._mapped_seq = seq
                self.derived.clear()
        return True

    async def discard_stale(self, erased: int | None = None) -> list[uuid.UUID]:
        """Remove the snapshots on disk older than the last erasure (their
        files may hold the erased; no process maps them) and their marks."""
        from services.reporting.engine import snapshot

        assert self.snapshots is not None
        if erased is None:
            _, erased = await self._head()
        try:
            removed = await asyncio.to_thread(
                snapshot.discard, self.snapshots.directory, erased
            )
        except OSError as error:
            log.error(
                "reporting_snapshot_not_discarded",
                directory=str(self.snapshots.directory),
                reason=str(error),
            )
            return []
        if removed:
            table: CoreTable = StoreSnapshot.__table__  # type: ignore[attr-defined]
            async with self.engine.begin() as conn:
                await conn.execute(table.delete().where(table.c.mark.in_(removed)))
            log.info(
                "reporting_snapshot_discarded",
                directory=str(self.snapshots.directory),
                marks=[str(m) for m in removed],
                erased_seq=erased,
            )
        return removed or []

    async def check_snapshot(self) -> None:
        """The API's periodic check, so that an idle process also acts on an
        erasure: a started store refreshes (writing a new snapshot if the
        one on disk predates the erasure), and any snapshot still older than
        the erasure is removed, whoever wrote it."""
        if self.snapshots is None:
            return
        if self.started_from is not None:
            await self.refresh()
            if self._writing is not None:
                await asyncio.wait([self._writing])
        await self.discard_stale()

    async def _with_new_rows(self, conn: AsyncConnection, head: int) -> list[Frame]:
        """The frames whose tables hold rows after ``self.seq``, found by one
        query (each table's ``seq`` index): a refresh then reads only those,
        where a query or two per frame and column would find nothing."""
        frames = list(self.frames.values())
        probe = " UNION ALL ".join(
            f"SELECT {i} WHERE EXISTS (SELECT 1 FROM {frame.table.name}"
            " WHERE seq > :since AND seq <= :head)"
            for i, frame in enumerate(frames)
        )
        found = await conn.execute(text(probe), {"since": self.seq, "head": head})
        return [frames[i] for i in sorted(found.scalars())]

    async def _load(self, head: int) -> None:
        async with self.engine.connect() as conn:
            # the first load: bulk; later ones are small, row by row is
            # fewer round trips than a vocabulary query per column
            bulk = conn.dialect.name == "postgresql" and self.seq == 0
            if bulk:  # big joins, no gain
                await conn.execute(text("SET LOCAL jit = off"))
            for frame in await self._with_new_rows(conn, head):
                if bulk and frame.numeric:
                    await self._load_numbers(conn, frame, head)
                    continue
                table = frame.table
                names = [table.c.key] + [table.c[c.name] for c in frame.columns]
                result = await conn.stream(
                    select(*names)
                    .where(table.c.seq > self.seq, table.c.seq <= head)
                    .execution_options(yield_per=LOAD_CHUNK)
                )
                async for chunk in result.partitions(LOAD_CHUNK):
                    frame.load(chunk)
            await self._load_places(conn)

    async def _distinct(
        self, frame: Frame, head: int, pages: int, taken: Callable[[], None]
    ) -> dict[str, set[Any]]:
        """Each categorical column's distinct values among the frame's new
        rows, from one pass over the table (a grouping set per column; a
        DISTINCT per column was a pass each, 18 for services), split by
        page ranges of the table's ``pages`` (counted once, after the head
        was read: every row up to it lies below) over ``LOAD_PARTS``
        connections of its own, as one such query runs on one core: it runs
        while the COPY does. Each part takes its snapshot (repeatable read)
        and calls ``taken`` before the COPY may start: a row the COPY sees
        up to the head, it saw too, unchanged (ingestion gives a changed
        row a later ``seq``)."""
        table = frame.table
        cats = [c.name for c in frame.columns if c.kind == "cat"]
        values: dict[str, set[Any]] = {name: set() for name in cats}
        if not cats:
            return values
        sets = ", ".join(f"({name})" for name in cats)

        async def part(i: int) -> list[Any]:
            async with self.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="REPEATABLE READ")
                await conn.execute(text("SET LOCAL jit = off"))
                await conn.execute(text("SELECT 1"))  # the snapshot, taken
                taken()
                first, end = (pages * j // LOAD_PARTS for j in (i, i + 1))
                pages_in = f"ctid >= '({first},0)'::tid"
                if i + 1 < LOAD_PARTS:  # the last part: to the end, grown or not
                    pages_in += f" AND ctid < '({end},0)'::tid"
                query = text(
                    f"SELECT {', '.join(cats)} FROM {table.name} "
                    f"WHERE seq > :since AND seq <= :head AND {pages_in} "
                    f"GROUP BY GROUPING SETS ({sets})"
                ).columns(*[table.c[name] for name in cats])
                found = await conn.execute(query, {"since": self.seq, "head": head})
                return list(found.all())

        for rows in await asyncio.gather(*(part(i) for i in range(LOAD_PARTS))):
            for row in rows:  # one grouping set's row: its column's value, or none
                for name, value in zip(cats, row, strict=True):
                    if value is not None:
                        values[name].add(value)
        return values

    async def _load_numbers(
        self, conn: AsyncConnection, frame: Frame, head: int
    ) -> None:
        """Load a frame's new rows from PostgreSQL as numbers only, in
        binary COPY, read by NumPy a chunk at a time: the driver decodes no
        UUIDs, strings or dates, and no Python runs per value (a cold load of
        a million services was mostly that). Dates come as day numbers, and
        none as the frame's sentinels. The columns are sized once, to the
        table's last key, before the first row arrives.

        Categorical columns come as 32-bit hashes of their values (a join
        per column to code them was most of PostgreSQL's work), while the
        distinct values are found at the same time (``_distinct``); they
        join the vocabulary in PostgreSQL's order (that of the ``SELECT
        DISTINCT`` this replaces), and the hashes are
        then replaced by codes. Exact: every row read holds one of those
        values (rows up to ``head`` do not change, and a row changed since
        has a later ``seq``), and a column whose values' 32 bits are not all
        different is read again, coded by a join."""
        table = frame.table
        last = (await conn.execute(select(func.max(table.c.key)))).scalar()
        frame.reserve(int(last or 0) + 1)
        cats = [c for c in frame.columns if c.kind == "cat"]
        hashed = [
            c for c in cats if _hash_function(table, c.name, conn.dialect) is not None
        ]
        if frame.size:  # a first load tried again: no code to take for a hash
            for column in hashed:
                frame.data[column.name][:] = -1
        pages = (
            await conn.execute(
                text(
                    "SELECT pg_relation_size(CAST(:name AS regclass))"
                    " / current_setting('block_size')::int"
                ),
                {"name": table.name},
            )
        ).scalar_one()
        snapshots = asyncio.Event()
        parts = 0

        def taken() -> None:
            nonlocal parts
            parts += 1
            if parts == LOAD_PARTS:
                snapshots.set()

        finding = asyncio.ensure_future(self._distinct(frame, head, int(pages), taken))
        try:
            waiting = asyncio.ensure_future(snapshots.wait())
            # the COPY's snapshot after the distinct pass's (or its end): the
            # load's connection reads committed, so the COPY takes its own
            try:
                await asyncio.wait(
                    [finding, waiting], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiting.cancel()
            if finding.done():
                finding.result()  # its error, if it failed
            first = [c for c in frame.columns if c.kind != "cat" or c in hashed]
            await self._copy(conn, frame, head, first, hashed)
            values = await finding
        finally:
            finding.cancel()
        joined = []
        for column in cats:
            vocabulary = frame.vocab[column.name]
            sql_type = table.c[column.name].type.compile(dialect=conn.dialect)
            function = _hash_function(table, column.name, conn.dialect)
            ordered = await conn.execute(
                text(
                    f"SELECT v, {_hashed('v', function)} FROM "
                    f"unnest(CAST(:values AS {sql_type}[])) AS u(v) ORDER BY v"
                ).columns(
                    sql_column("v", table.c[column.name].type),
                    sql_column("h", BigInteger),
                ),
                {"values": list(values[column.name])},
            )
            hashes, codes = [], []
            for value, value_hash in ordered:
                codes.append(vocabulary.code(value))
                hashes.append(value_hash)
            low = np.array(hashes, np.int64).astype(np.int32)  # the 32 bits kept
            if column not in hashed or len(np.unique(low)) != len(low):
                frame.data[column.name][:] = -1  # no hash taken for a code
                joined.append(column)
            elif not _recode(frame.data[column.name], low, np.array(codes, np.int32)):
                raise ValueError(f"unknown value loading {table.name}")
        if joined:
            await self._copy(conn, frame, head, joined, [])

    async def _copy(
        self,
        conn: AsyncConnection,
        frame: Frame,
        head: int,
        columns: Sequence[Column],
        hashed: Sequence[Column],
    ) -> None:
        """COPY the frame's new rows' ``columns`` into it; the ``hashed``
        ones as their values' hashes' low 32 bits, other categorical ones
        coded by a join with their vocabulary."""
        table = frame.table
        arguments: list[Any] = [self.seq, head]
        selected = ["t.key::int4"]
        joins = []
        for column in columns:
            name = f"t.{column.name}"
            sql_type = table.c[column.name].type.compile(dialect=conn.dialect)
            if column in hashed:
                function = _hash_function(table, column.name, conn.dialect)
                selected.append(f"COALESCE({_hashed(name, function)}, 0)")
            elif column.kind == "cat":
                arguments.append(frame.vocab[column.name].values)
                code = f"v{len(arguments)}"
                joins.append(
                    f"LEFT JOIN unnest(${len(arguments)}::{sql_type}[]) "
                    f"WITH ORDINALITY AS {code}(value, code) ON {code}.value = {name}"
                )
                selected.append(f"(COALESCE({code}.code, 0) - 1)::int4")
            elif column.kind == "date":
                selected.append(
                    f"COALESCE({name} - DATE '1970-01-01', {NO_DATE})::int4"
                )
            elif column.kind == "int":
                selected.append(f"COALESCE({name}, {NO_INT})::int4")
            elif column.kind == "float":
                selected.append(f"COALESCE({name}, 'NaN')::float8")
            else:
                selected.append(f"COALESCE({name}::int4, 0)")
        # a row: its field count, then per field its size and an int4 (all
        # but floats go into 32 bits; an int8 was a third more bytes to
        # make, send and parse) or a float8
        kinds = ["key", *(c.kind for c in columns)]
        sizes = [8 if k == "float" else 4 for k in kinds]
        starts = np.cumsum([2, *(4 + size for size in sizes)])
        row = np.dtype(
            {
                "names": ["fields", *(f"value{i}" for i in range(len(kinds)))],
                "formats": [">i2", *(">f8" if k == "float" else ">i4" for k in kinds)],
                "offsets": [0, *(int(start) + 4 for start in starts[:-1])],
                "itemsize": int(starts[-1]),
            }
        )
        pending = bytearray()
        started = False

        def put(rows: int) -> None:
            block = np.frombuffer(pending, row, count=rows)
            if not (block["fields"] == len(selected)).all():
                raise ValueError(f"unexpected COPY rows loading {table.name}")
            frame.put(  # each column made native and contiguous before its scatter
                block["value0"].astype(np.int64),
                {
                    c.name: block[f"value{i}"].astype(
                        np.float64 if c.kind == "float" else np.int32
                    )
                    for i, c in enumerate(columns, 1)
                },
            )
            del block  # a view of pending, which cannot shrink under it
            del pending[: rows * row.itemsize]

        async def take(data: bytes) -> None:
            nonlocal started
            pending.extend(data)
            if not started:  # signature, flags, header extension
                if len(pending) < 19:
                    return
                del pending[: 19 + int.from_bytes(pending[15:19], "big")]
                started = True
            if len(pending) >= LOAD_CHUNK * row.itemsize:
                put(len(pending) // row.itemsize)

        driver: Any = (await conn.get_raw_connection()).driver_connection
        await driver.copy_from_query(
            f"SELECT {', '.join(selected)} FROM {table.name} t {' '.join(joins)} "
            "WHERE t.seq > $1 AND t.seq <= $2",
            *arguments,
            output=take,
            format="binary",
        )
        put(len(pending) // row.itemsize)
        if pending != b"\xff\xff":  # the trailer
            raise ValueError(f"unexpected end of COPY loading {table.name}")

    async def _load_places(self, conn: Any) -> None:
        places = Places()
        for row in await conn.execute(select(LocationDim)):
            places.names[row.id] = row.name
            places.translated[row.id] = row.names or {}
            places.pcodes[row.id] = row.pcode
            places.level[row.id] = row.level
            places.parent[row.id] = row.parent_id
        for row in await conn.execute(select(OrganisationDim)):
            places.organisations[row.id] = row.name
            if row.lead_organisation_id is not None:
                places.lead[row.id] = row.lead_organisation_id
        for row in await conn.execute(select(TeamFact)):
            places.teams[row.team_id] = row.name
        named = select(ProjectFact).where(col(ProjectFact.name).is_not(None))
        for row in await conn.execute(named):
            places.projects[row.project_id] = row.name
            places.project_members[row.project_id] = frozenset(
                {row.organisation_id, *map(uuid.UUID, row.partner_organisation_ids)}
            )
        self.places = places
