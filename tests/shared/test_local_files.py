"""The embedded default's files: generated keys made once, whole, whichever
of several processes starting together makes them; keys and SQLite files
for the service's user only, whatever the umask."""

from __future__ import annotations

import multiprocessing
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import text

from shared.auth import LOCAL_KEY_FILE as SIGNING_KEY_FILE
from shared.auth import LocalSigningKey
from shared.crypto import LOCAL_KEY_FILE as PII_KEY_FILE
from shared.crypto import KeyRing
from shared.db import make_engine

RACERS = 8
ROUNDS = 3


def _signing_key_id(data_dir: Path) -> str:
    return LocalSigningKey.load_or_create(data_dir).kid


def _pii_keys(data_dir: Path) -> str:
    ring = KeyRing.from_settings(None, None, None, data_dir)
    return (ring.keys[ring.active] + ring.blind_index_key).hex()


LOADERS = {"signing": _signing_key_id, "pii": _pii_keys}


def _race(
    loader: str, data_dir: Path, start: Barrier, results: multiprocessing.Queue[str]
) -> None:
    start.wait()
    try:
        results.put(LOADERS[loader](data_dir))
    except Exception as exc:  # the loser of a race must not fail
        results.put(f"failed: {exc!r}")


def _race_on_a_fresh_folder(loader: str, data_dir: Path) -> list[str]:
    context = multiprocessing.get_context("fork")
    start = context.Barrier(RACERS)
    results: multiprocessing.Queue[str] = context.Queue()
    processes = [
        context.Process(target=_race, args=(loader, data_dir, start, results))
        for _ in range(RACERS)
    ]
    for process in processes:
        process.start()
    found = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    return found


def test_processes_starting_together_share_one_signing_key(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"data{round_}"
        found = _race_on_a_fresh_folder("signing", data_dir)
        assert set(found) == {LocalSigningKey.load_or_create(data_dir).kid}, found


def test_processes_starting_together_share_one_pii_key_file(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"data{round_}"
        found = _race_on_a_fresh_folder("pii", data_dir)
        assert set(found) == {_pii_keys(data_dir)}, found


def test_generated_keys_are_for_the_owner_only(
    open_umask: None, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    LocalSigningKey.load_or_create(data_dir)
    KeyRing.from_settings(None, None, None, data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert sorted(p.name for p in data_dir.iterdir()) == sorted(
        [SIGNING_KEY_FILE, PII_KEY_FILE]
    ), "no temporary file is left behind"
    for name in (SIGNING_KEY_FILE, PII_KEY_FILE):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name


def test_an_existing_data_folder_is_closed_to_others(
    open_umask: None, tmp_path: Path
) -> None:
    """A folder an older version left readable by everyone is tightened."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    LocalSigningKey.load_or_create(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


async def test_sqlite_files_are_for_the_owner_only(
    open_umask: None, tmp_path: Path
) -> None:
    """The database and the -wal and -shm files SQLite makes beside it, in a
    new folder and over a file an older version left readable."""
    old = tmp_path / "old.db"
    old.touch(mode=0o644)
    old.chmod(0o644)
    for path in (tmp_path / "data" / "new.db", old):
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.connect() as connection:
            await connection.execute(text("CREATE TABLE t (x INTEGER)"))
            await connection.execute(text("INSERT INTO t VALUES (1)"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            for file in files:
                assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        await engine.dispose()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
