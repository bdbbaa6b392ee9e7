"""The fact store's snapshot (docs/decisions/0014): a process that maps it
answers as one that loaded from PostgreSQL, catches up with what came after
it, refuses a snapshot that is corrupt, half written, of another format or
of another database (with a log line, then a cold load), and never maps one
that predates an erasure; a snapshot written after an erasure holds nothing
of the erased person."""

from __future__ import annotations

import asyncio
import errno
import gc
import json
import os
import shutil
import stat
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.reporting.app import create_app
from services.reporting.engine import snapshot
from services.reporting.engine.snapshot import CURRENT, MANIFEST
from services.reporting.engine.store import FactStore, Snapshots
from services.reporting.settings import ReportingSettings
from services.training.settings import TrainingSettings
from shared.auth import Role
from tests.beneficiary.api import (
    make_beneficiary,
    record_service,
    withdraw_registration,
)
from tests.callers import Caller
from tests.fixtures.logs import LogLine
from tests.lifespan import running
from tests.reporting.helpers import (
    both_sexes_served,
    by_value,
    overview,
    started_store,
    values,
)
from tests.training.api import token, trainee


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """Snapshots in memory (``/dev/shm``) where the machine has it: each
    snapshot fsyncs every column file, a disk wait these tests are not
    about (they test what is written, refused and mapped)."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _current(directory: Path) -> Path:
    return (directory / CURRENT).resolve()


async def test_a_mapped_snapshot_answers_as_a_cold_load(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    await both_sexes_served(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    plain = await started_store(reporting_app)
    cold_answer = await overview(reporting_client, reader)
    assert plain.started_from == "database"

    umask = os.umask(0o022)  # a process without the entry points' umask
    try:
        writer = await started_store(reporting_app, tmp_path)
    finally:
        os.umask(umask)
    assert writer.started_from == "database"  # nothing to map yet
    written = [*_current(tmp_path).iterdir(), tmp_path / ".lock"]
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in written}
    assert set(modes.values()) == {0o600}, modes  # every file, as security.md says
    assert await overview(reporting_client, reader) == cold_answer
    manifest = json.loads((_current(tmp_path) / MANIFEST).read_text())
    assert manifest["seq"] == writer.seq > 0
    assert stat.S_IMODE(_current(tmp_path).stat().st_mode) == 0o700

    mapped = await started_store(reporting_app, tmp_path)
    assert mapped.started_from == "snapshot"
    assert mapped.seq == writer.seq
    assert await overview(reporting_client, reader) == cold_answer
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}


async def test_a_stale_snapshot_is_caught_up(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    await both_sexes_served(alice, catch_up)
    written = await started_store(reporting_app, tmp_path)
    late = await make_beneficiary(alice, sex="female")
    await record_service(alice, late["id"], service_date="2026-05-01")
    await catch_up()
    reader = issue(orgs["a"], Role.me_officer)

    mapped = await started_store(reporting_app, tmp_path)
    assert mapped.started_from == "snapshot"
    assert mapped.seq > written.seq  # mapped, then caught up
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 2, "male": 1}
    caught_up = await overview(reporting_client, reader)
    await started_store(reporting_app)
    assert await overview(reporting_client, reader) == caught_up


def _flip_a_byte(directory: Path) -> None:
    column = _current(directory) / "services.activity_code.npy"
    data = bytearray(column.read_bytes())
    data[-1] ^= 0xFF
    column.write_bytes(bytes(data))


def _cut_short(directory: Path) -> None:
    column = _current(directory) / "beneficiaries.sex.npy"
    column.write_bytes(column.read_bytes()[:100])


def _no_manifest(directory: Path) -> None:
    (_current(directory) / MANIFEST).unlink()


def _old_format(directory: Path) -> None:
    path = _current(directory) / MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format": 0}))


def _text_changed(directory: Path) -> None:
    path = _current(directory) / "text.json"
    path.write_text(path.read_text().replace('"female"', '"male"'))


SPOILED: dict[str, tuple[Callable[[Path], None], str]] = {
    "corrupt column": (_flip_a_byte, "checksum"),
    "half-written column": (_cut_short, "beneficiaries.sex.npy"),
    "no manifest": (_no_manifest, "manifest"),
    "old format": (_old_format, "format 0"),
    "vocabulary changed": (_text_changed, "text.json"),
}


@pytest.mark.parametrize("spoil", list(SPOILED))
async def test_a_spoiled_snapshot_is_refused_with_a_log_line(
    spoil: str,
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
    log_lines: list[LogLine],
) -> None:
    await both_sexes_served(alice, catch_up)
    reader = issue(orgs["a"], Role.me_officer)
    await started_store(reporting_app, tmp_path)
    answer = await overview(reporting_client, reader)
    damage, reason = SPOILED[spoil]
    damage(tmp_path)

    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    refused = [
        line.event
        for line in log_lines
        if line.event.get("event") == "reporting_snapshot_refused"
    ]
    assert len(refused) == 1, refused
    assert reason in refused[0]["reason"], refused
    assert await overview(reporting_client, reader) == answer


def _resident_kib(directory: Path) -> int:
    """Kilobytes of this process's mappings of files under ``directory``
    that are in its RSS (``/proc/self/smaps``)."""
    total, inside = 0, False
    root = str(directory.resolve())
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and len(fields) >= 5:  # a mapping's header
            inside = len(fields) >= 6 and fields[5].startswith(root)
        elif inside and fields and fields[0] == "Rss:":
            total += int(fields[1])
    return total


@pytest.mark.skipif(
    not Path("/proc/self/smaps").exists(), reason="reads /proc/self/smaps"
)
async def test_a_mapped_snapshot_is_checked_without_holding_its_pages(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """Checksums and codes are read from the files, not through the
    mapping: a process that has just written the snapshot still holds its
    own frames, and all pages mapped in at once doubled its memory."""
    await both_sexes_served(alice, catch_up)
    await started_store(reporting_app, tmp_path)
    mapped = await started_store(reporting_app, tmp_path)
    assert mapped.started_from == "snapshot"
    assert _resident_kib(tmp_path) == 0
    await overview(reporting_client, issue(orgs["a"], Role.me_officer))
    assert _resident_kib(tmp_path) > 0  # mapped in as queries read them


async def test_another_databases_snapshot_is_refused(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
    log_lines: list[LogLine],
) -> None:
    """Same files, but the database never wrote them (another deployment's,
    or this one restored from a backup older than the snapshot)."""
    await both_sexes_served(alice, catch_up)
    await started_store(reporting_app, tmp_path)
    async with reporting_app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM store_snapshot"))

    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    reasons = [
        line.event["reason"]
        for line in log_lines
        if line.event.get("event") == "reporting_snapshot_refused"
    ]
    assert len(reasons) == 1
    assert "unknown to this database" in reasons[0]
    reader = issue(orgs["a"], Role.me_officer)
    people = await values(reporting_client, reader, "people_reached")
    assert people["total"]["value"] == 2


async def test_a_snapshot_ahead_of_the_database_is_refused(
    alice: Caller,
    reporting_app: FastAPI,
    catch_up: Any,
    tmp_path: Path,
    log_lines: list[LogLine],
) -> None:
    """A database restored to before the snapshot: its seq is behind."""
    await both_sexes_served(alice, catch_up)
    written = await started_store(reporting_app, tmp_path)
    async with reporting_app.state.engine.begin() as connection:
        await connection.execute(
            text("UPDATE ingest_counter SET seq = :seq"), {"seq": written.seq - 1}
        )
    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    assert any(
        "ahead of the database" in line.event.get("reason", "") for line in log_lines
    )


async def test_a_snapshot_older_than_an_erasure_is_never_mapped(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
    log_lines: list[LogLine],
) -> None:
    person = await make_beneficiary(alice, sex="male")
    await record_service(alice, person["id"], service_date="2026-02-01")
    await both_sexes_served(alice, catch_up)
    before = await started_store(reporting_app, tmp_path)
    old = _current(tmp_path)
    r = await withdraw_registration(issue, orgs["a"], person["id"])
    assert r.status_code in (200, 201), r.text
    await catch_up()

    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    assert any(
        "before an erasure" in line.event.get("reason", "") for line in log_lines
    )
    reader = issue(orgs["a"], Role.me_officer)
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}  # not 2 men
    assert not old.exists()  # the cold load wrote a new one and removed it
    assert _current(tmp_path) != old
    assert store.seq > before.seq
    again = await started_store(reporting_app, tmp_path)
    assert again.started_from == "snapshot"
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}


async def test_a_process_rewrites_its_snapshot_at_once_after_an_erasure(
    issue: Any,
    orgs: Any,
    training_client: httpx.AsyncClient,
    training_settings: TrainingSettings,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """A running process that held the trainee before the erasure still has
    their id among its values; the snapshot it writes does not, and the one
    that had it is removed."""
    headers = token(training_settings, uuid.UUID(orgs["a"].id), Role.trainer)
    erased, kept = str(uuid.uuid4()), str(uuid.uuid4())
    for trainee_id in (erased, kept):
        r = await training_client.post(
            "/v1/trainees", json=trainee(id=trainee_id), headers=headers
        )
        assert r.status_code == 201, r.text
    await catch_up()
    store = await started_store(reporting_app, tmp_path, every_seconds=3600)
    old = _current(tmp_path)
    assert erased in (old / "text.json").read_text()

    manager = token(training_settings, uuid.UUID(orgs["a"].id), Role.programme_manager)
    r = await training_client.post(
        f"/v1/trainees/{erased}/erasure",
        headers=manager | {"X-Access-Reason": "written request, ref DP-9"},
    )
    assert r.status_code == 200, r.text
    await catch_up()
    await store.refresh()  # long before an hour has passed
    await store.settled()
    assert not old.exists()
    written = b"".join(path.read_bytes() for path in _current(tmp_path).iterdir())
    assert erased.encode() not in written
    assert kept.encode() in written
    mapped = await started_store(reporting_app, tmp_path)
    assert mapped.started_from == "snapshot"
    trainees = mapped.frames["trainees"]
    held = trainees.vocab["trainee_id"].values
    assert uuid.UUID(kept) in held
    assert uuid.UUID(erased) not in held
    assert int(trainees.present[: trainees.size].sum()) == 2


async def _erased_after_a_snapshot(
    alice: Caller, issue: Any, orgs: Any, catch_up: Any, store: FactStore
) -> Path:
    """A snapshot written while a man was counted, then his erasure
    ingested; the snapshot's path."""
    person = await make_beneficiary(alice, sex="male")
    await record_service(alice, person["id"], service_date="2026-02-01")
    await both_sexes_served(alice, catch_up)
    await store.refresh()
    await store.settled()
    assert store.snapshots is not None
    old = _current(store.snapshots.directory)
    r = await withdraw_registration(issue, orgs["a"], person["id"])
    assert r.status_code in (200, 201), r.text
    await catch_up()
    return old


def _disk_full(*_: Any) -> Any:
    raise OSError(errno.ENOSPC, "No space left on device")


async def _erased_seq(app: FastAPI) -> int:
    async with app.state.engine.connect() as connection:
        found = await connection.execute(text("SELECT erased_seq FROM ingest_counter"))
        return int(found.scalar_one())


async def test_a_refused_snapshot_older_than_an_erasure_is_removed(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    catch_up: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A starting process that cannot write (a full disk) still removes the
    snapshot it refused for predating an erasure: its files hold the erased."""
    first = FactStore(reporting_app.state.runtime.engine, Snapshots(tmp_path))
    old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, first)
    there_at_writing: list[bool] = []

    def disk_full(*arguments: Any) -> Any:
        there_at_writing.append(old.exists())
        _disk_full(*arguments)

    monkeypatch.setattr(snapshot, "write", disk_full)

    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    assert there_at_writing == [False]  # removed on refusal, not only after
    assert not old.exists()
    assert not (tmp_path / CURRENT).is_symlink()
    async with reporting_app.state.engine.connect() as connection:
        marks = await connection.execute(text("SELECT count(*) FROM store_snapshot"))
        assert marks.scalar_one() == 0


async def test_a_failed_write_after_an_erasure_removes_the_old_and_is_retried(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    catch_up: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    log_lines: list[LogLine],
) -> None:
    """The rewrite after an erasure fails: the old snapshot goes anyway, and
    the next refresh (no new events, long before every_seconds) tries again."""
    store = FactStore(
        reporting_app.state.runtime.engine,
        Snapshots(tmp_path, every_seconds=3600, check_seconds=0.01),
    )
    reporting_app.state.fact_store = store
    old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, store)
    write = snapshot.write
    monkeypatch.setattr(snapshot, "write", _disk_full)
    await store.refresh()
    await store.settled()
    assert any(
        line.event.get("event") == "reporting_snapshot_not_written"
        for line in log_lines
    )
    assert not old.exists()

    monkeypatch.setattr(snapshot, "write", write)
    await asyncio.sleep(0.05)
    await store.refresh()  # nothing new to load
    await store.settled()
    manifest = json.loads((_current(tmp_path) / MANIFEST).read_text())
    assert manifest["seq"] == store.seq >= await _erased_seq(reporting_app)
    mapped = await started_store(reporting_app, tmp_path)
    assert mapped.started_from == "snapshot"


async def _until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


def _checking(settings: ReportingSettings, directory: Path) -> FastAPI:
    """Another API process with snapshots in ``directory``, checking them
    every tenth of a second."""
    return create_app(
        settings.model_copy(
            update={"snapshot_dir": directory, "snapshot_check_seconds": 0.1}
        )
    )


async def test_an_idle_process_rewrites_a_snapshot_older_than_an_erasure(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_settings: ReportingSettings,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """No request reaches the process after the erasure: its periodic check
    refreshes the store, which writes a new snapshot and removes the old."""
    idle = _checking(reporting_settings, tmp_path)
    async with running(idle):
        store = FactStore(
            idle.state.runtime.engine, Snapshots(tmp_path, 3600, check_seconds=0.1)
        )
        idle.state.fact_store = store
        old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, store)
        erased = await _erased_seq(reporting_app)
        await _until(lambda: not old.exists())
        await _until(lambda: (tmp_path / CURRENT).exists())
        manifest = json.loads((_current(tmp_path) / MANIFEST).read_text())
        assert manifest["seq"] >= erased


async def test_an_idle_process_removes_a_snapshot_older_than_an_erasure(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_settings: ReportingSettings,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """The process that wrote it is gone and the one running has served no
    request (its store is not loaded): the check removes the old files."""
    writer = FactStore(reporting_app.state.runtime.engine, Snapshots(tmp_path))
    old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, writer)
    idle = _checking(reporting_settings, tmp_path)
    async with running(idle):
        await _until(lambda: not old.exists())
        assert not (tmp_path / CURRENT).is_symlink()
        assert idle.state.fact_store.started_from is None  # nothing loaded


async def test_a_snapshot_the_restored_database_does_not_know_is_overwritten(
    alice: Caller,
    reporting_app: FastAPI,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """A database restored from a backup older than the snapshot: behind it
    and without its mark. The snapshot (which may hold people erased since
    the backup) is replaced by the cold load's, not trusted as newer."""
    await both_sexes_served(alice, catch_up)
    written = await started_store(reporting_app, tmp_path)
    old = _current(tmp_path)
    async with reporting_app.state.engine.begin() as connection:
        await connection.execute(text("DELETE FROM store_snapshot"))
        await connection.execute(
            text("UPDATE ingest_counter SET seq = :seq"), {"seq": written.seq - 1}
        )
    store = await started_store(reporting_app, tmp_path)
    assert store.started_from == "database"
    assert not old.exists()
    manifest = json.loads((_current(tmp_path) / MANIFEST).read_text())
    assert manifest["seq"] == written.seq - 1
    again = await started_store(reporting_app, tmp_path)
    assert again.started_from == "snapshot"


def _mapped_removed_files(directory: Path) -> list[str]:
    """Files under ``directory`` this process still maps though removed.

    The collection frees whatever earlier tests of this worker left for the
    cycle collector; an asyncpg connection among them (rare, from a test
    not yet found) warns as it goes, which is not this test's to judge."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    maps = Path("/proc/self/maps").read_text().splitlines()
    return [line for line in maps if str(directory) in line and "(deleted)" in line]


async def test_a_process_mapping_a_snapshot_older_than_an_erasure_lets_it_go(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
) -> None:
    """The removed files of a snapshot stay on disk while a process maps
    them: after refreshing past the erasure, a process that mapped the old
    snapshot maps the new one (or holds its own copy), not the old files."""
    engine = reporting_app.state.runtime.engine
    mapping = FactStore(engine, Snapshots(tmp_path, every_seconds=3600))
    old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, mapping)
    assert old.name.startswith(f"{mapping.seq}-")  # it maps what it wrote
    writer = await started_store(reporting_app, tmp_path)  # refuses, writes anew
    assert not old.exists()
    assert _mapped_removed_files(tmp_path)  # the old files, still mapped

    await mapping.refresh()
    await mapping.settled()
    assert mapping.seq == writer.seq
    del writer
    assert _mapped_removed_files(tmp_path) == []
    assert mapping._mapped_seq == mapping.seq  # the new snapshot, shared
    reporting_app.state.fact_store = mapping
    reader = issue(orgs["a"], Role.me_officer)
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}


async def test_with_no_newer_snapshot_a_mapping_process_copies_its_frames(
    alice: Caller,
    issue: Any,
    orgs: Any,
    reporting_app: FastAPI,
    reporting_client: httpx.AsyncClient,
    catch_up: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No snapshot after the erasure can be written (a full disk): the
    process holds its frames in its own memory, not the removed files."""
    engine = reporting_app.state.runtime.engine
    mapping = FactStore(engine, Snapshots(tmp_path, every_seconds=3600))
    old = await _erased_after_a_snapshot(alice, issue, orgs, catch_up, mapping)
    monkeypatch.setattr(snapshot, "write", _disk_full)

    await mapping.refresh()
    await mapping.settled()
    assert not old.exists()
    assert _mapped_removed_files(tmp_path) == []
    reporting_app.state.fact_store = mapping
    reader = issue(orgs["a"], Role.me_officer)
    people = await values(reporting_client, reader, "people_reached", by="sex")
    assert by_value(people) == {"female": 1, "male": 1}
