"""The fact store's frames as files that API processes map read-only, so a
machine holds one copy of the facts in its page cache whatever the number of
workers, and a worker starts by mapping instead of reading PostgreSQL
(docs/decisions/0014-reporting-past-one-machine.md).

A snapshot is a directory ``<seq>-<mark>`` under the configured directory:
one ``.npy`` file per numeric column and per frame's ``present``, written
with room to grow, ``text.json`` for the vocabularies and the ``obj``
columns, and ``manifest.json`` last, naming the format, the ingestion
``seq`` the frames hold, a random ``mark`` (also written to the database's
``store_snapshot`` table), and each column's shape and CRC-32. It is
written under a temporary name and renamed whole, then ``current`` (a
symbolic link) is replaced atomically: a reader sees a complete snapshot
or the previous one, never half of one. What the database must confirm
(the mark at that ``seq``, no erasure since) is checked by the store
(``FactStore._open_snapshot``); this module only writes and reads files,
and refuses anything that does not add up.

Vocabularies are compacted on writing: a value no row uses any more (such
as an erased trainee's id, since replaced by its pseudonym) is not written.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap

from services.reporting.engine.store import Column, Frame, Vocabulary
from shared.files import PRIVATE_DIR, PRIVATE_FILE, open_private

FORMAT = 1
"""Bump when the files change meaning; an older snapshot is then refused."""
CURRENT = "current"
MANIFEST = "manifest.json"
TEXT = "text.json"
HEADROOM = 1 / 8
"""Rows written past the last one (sentinels), so a mapped frame takes new
rows in its copy-on-write pages instead of copying every column to grow."""
MIN_HEADROOM = 4096
CRC_CHUNK = 1 << 22
"""Bytes read at a time to check a file (a multiple of every item size)."""
PRESENT = "@present"
"""The label of a frame's row mask (no column name starts with @)."""


class SnapshotRefused(Exception):
    """Why a snapshot cannot be mapped (the store then loads from the
    database)."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot as read: the frames mapped, and what the manifest says."""

    path: Path
    seq: int
    mark: uuid.UUID
    frames: dict[str, Frame]


def _dtype(column: Column) -> np.dtype[Any]:
    if column.kind in ("cat", "int", "date"):
        return np.dtype(np.int32)
    if column.kind == "float":
        return np.dtype(np.float64)
    return np.dtype(np.bool_)


def _layout(frames: Mapping[str, Frame]) -> dict[str, list[str]]:
    """Which frames and columns the code has: a snapshot of another layout
    (an older release) is refused rather than guessed at."""
    return {
        name: [f"{c.name}:{c.kind}" for c in frame.columns]
        for name, frame in frames.items()
    }


def _crc(array: np.ndarray[Any, Any]) -> int:
    return zlib.crc32(np.ascontiguousarray(array).view(np.uint8).data)


def _scanned(path: Path, array: np.memmap[Any, Any]) -> tuple[int, int | None]:
    """The CRC-32 of a mapped array's bytes and, for integers, their
    largest value (else None), read from its file, not through the mapping:
    that would make every page resident in this process at once, and a
    process that has just written the snapshot still holds its own copy of
    the frames (a cold 10M-line load then peaked at 2.2 GiB). Queries map
    pages in as they touch them."""
    crc, left, largest = 0, int(array.nbytes), None
    with path.open("rb") as file:
        file.seek(int(array.offset))
        while left > 0:
            chunk = file.read(min(left, CRC_CHUNK))  # whole items: see CRC_CHUNK
            if not chunk or len(chunk) % array.itemsize:
                raise SnapshotRefused(f"{path.name}: shorter than its array")
            crc = zlib.crc32(chunk, crc)
            if array.dtype.kind == "i":  # codes: checked against their vocabulary
                found = int(np.frombuffer(chunk, array.dtype).max())
                largest = found if largest is None else max(largest, found)
            left -= len(chunk)
    return crc, largest


def _tagged(value: Any) -> list[Any]:
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, str):
        return ["s", value]
    raise TypeError(f"cannot write a vocabulary value of type {type(value)}")


def _untagged(tag: str, value: Any) -> Any:
    if tag == "u":
        return uuid.UUID(value)
    if tag in ("b", "i", "s"):
        return value
    raise SnapshotRefused(f"unknown vocabulary tag {tag!r}")


def _compacted(frame: Frame, column: Column) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """A categorical column recoded to the values its rows use, in their
    old order, and those values."""
    codes = frame.col(column.name)
    values = frame.vocab[column.name].values
    if not values:
        return np.full(len(codes), -1, np.int32), []
    used = np.zeros(len(values), bool)
    used[codes[codes >= 0]] = True
    if used.all():  # nothing to drop (as after a load): no copy
        return codes, list(values)
    renumber = np.cumsum(used, dtype=np.int32) - 1
    recoded = np.where(codes >= 0, renumber[np.maximum(codes, 0)], -1).astype(np.int32)
    return recoded, [v for v, keep in zip(values, used.tolist(), strict=True) if keep]


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[bool]:
    """Hold the directory's writer lock (``flock`` on ``.lock``, mode 0600)
    if no other process holds it; yields whether it is held."""
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    descriptor = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # releases the lock


def _sequence(path: Path) -> tuple[int, uuid.UUID] | None:
    """The ``seq`` and mark a snapshot directory's name gives, if it is one."""
    seq, _, mark = path.name.partition("-")
    try:
        return int(seq), uuid.UUID(mark)
    except ValueError:
        return None


def write(
    directory: Path,
    frames: Mapping[str, Frame],
    seq: int,
    mark: uuid.UUID,
    known: Mapping[uuid.UUID, int],
) -> tuple[Path, list[uuid.UUID]] | None:
    """Write the frames as snapshot ``mark`` and make it ``current``; returns
    its path and the marks of the snapshots removed, or None when another
    process is writing or ``current`` is already at ``seq`` or newer and the
    database knows it (``known``: its marks and their ``seq``). A ``current``
    the database does not know (a restore older than it, another database's)
    is overwritten, not trusted. Every file is mode 0600. Runs in a thread
    while the frames do not change."""
    with _locked(directory) as held_lock:
        if not held_lock:
            return None
        return _write_locked(directory, frames, seq, mark, known)


def _write_locked(
    directory: Path,
    frames: Mapping[str, Frame],
    seq: int,
    mark: uuid.UUID,
    known: Mapping[uuid.UUID, int],
) -> tuple[Path, list[uuid.UUID]] | None:
    try:
        held = read_manifest(directory)
        held_seq = int(held["seq"]) if held is not None else -1
        held_mark = uuid.UUID(held["mark"]) if held is not None else None
    except (SnapshotRefused, KeyError, TypeError, ValueError):
        held_seq, held_mark = -1, None
    if held_seq >= seq and held_mark is not None and known.get(held_mark) == held_seq:
        return None
    temporary = directory / f".tmp-{mark}"
    for leftover in directory.glob(".tmp-*"):  # a writer that crashed
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        return _write_into(temporary, directory, frames, seq, mark)
    except BaseException:  # a disk that filled: leave no rows behind
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _write_into(
    temporary: Path,
    directory: Path,
    frames: Mapping[str, Frame],
    seq: int,
    mark: uuid.UUID,
) -> tuple[Path, list[uuid.UUID]]:
    temporary.mkdir(mode=PRIVATE_DIR)  # per-person rows: the service's only
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "seq": seq,
        "mark": str(mark),
        "layout": _layout(frames),
        "frames": {},
    }
    text: dict[str, Any] = {}
    for name, frame in frames.items():
        size = frame.size
        capacity = size + max(int(size * HEADROOM), MIN_HEADROOM)
        files: dict[str, Any] = {}
        vocab: dict[str, list[list[Any]]] = {}
        objects: dict[str, list[Any]] = {}
        arrays: list[tuple[str, Column | None]] = [(PRESENT, None)]
        for column in frame.columns:
            if column.kind == "obj":
                objects[column.name] = list(frame.col(column.name))
            else:
                arrays.append((column.name, column))
        for label, of in arrays:  # one column's copy alive at a time
            if of is None:
                values: Any = frame.present[:size]
            elif of.kind == "cat":
                values, used = _compacted(frame, of)
                vocab[of.name] = [_tagged(v) for v in used]
            else:
                values = frame.col(of.name)
            dtype = np.dtype(np.bool_) if of is None else _dtype(of)
            filename = f"{name}.{label}.npy"
            open_private(temporary / filename).close()  # mode 0600, kept by w+
            out = open_memmap(
                temporary / filename, mode="w+", dtype=dtype, shape=(capacity,)
            )
            out[:size] = values
            out[size:] = False if of is None else Frame._empty(of, capacity - size)
            out.flush()
            files[label] = {
                "file": filename,
                "dtype": dtype.str,
                "crc32": _crc(out),
            }
            del out, values
            _fsync(temporary / filename)
        manifest["frames"][name] = {
            "size": size,
            "capacity": capacity,
            "files": files,
        }
        text[name] = {"vocab": vocab, "objects": objects}
    with open_private(temporary / TEXT) as file:
        file.write(json.dumps(text, separators=(",", ":")).encode())
    manifest["text_crc32"] = zlib.crc32((temporary / TEXT).read_bytes())
    _fsync(temporary / TEXT)
    with open_private(temporary / MANIFEST) as file:
        file.write(json.dumps(manifest, indent=1).encode())
    _fsync(temporary / MANIFEST)
    final = directory / f"{seq}-{mark}"
    os.rename(temporary, final)
    link = directory / f".current-{mark}"
    link.symlink_to(final.name)
    os.replace(link, directory / CURRENT)
    _fsync(directory)
    removed = []
    for old in directory.iterdir():
        if old.name.startswith(".") or old in (final, directory / CURRENT):
            continue
        if old.is_dir():
            named = _sequence(old)
            if named is not None:
                removed.append(named[1])
            shutil.rmtree(old, ignore_errors=True)
    return final, removed


def discard(directory: Path, before: int) -> list[uuid.UUID] | None:
    """Remove every snapshot older than ``before`` (the last erasure: its
    files may hold the erased), ``current`` too if it was one, and any
    half-written one a crashed writer left; returns their marks, or None
    when a writer holds the lock (it removes the old ones itself, and a
    later check finds what it did not)."""
    if not directory.is_dir():
        return []
    with _locked(directory) as held_lock:
        if not held_lock:
            return None
        removed = []
        for path in directory.iterdir():
            named = _sequence(path)
            if path.name.startswith(".tmp-"):
                shutil.rmtree(path, ignore_errors=True)
            elif named is not None and named[0] < before and path.is_dir():
                shutil.rmtree(path)
                removed.append(named[1])
        current = directory / CURRENT
        if current.is_symlink() and not current.exists():
            current.unlink()
        if removed:
            _fsync(directory)
        return removed


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The current snapshot's manifest, None when there is none."""
    current = directory / CURRENT
    if not current.is_symlink() and not current.exists():
        return None
    try:
        manifest: dict[str, Any] = json.loads((current / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise SnapshotRefused(f"unreadable manifest: {error}") from error
    return manifest


def read(directory: Path, expected: Mapping[str, Frame]) -> Snapshot | None:
    """Map the current snapshot's frames (copy-on-write: a process's own
    later changes stay private), checking everything the files can tell:
    format, layout, shapes and checksums. None when there is no snapshot;
    ``SnapshotRefused`` when it does not add up."""
    manifest = read_manifest(directory)
    if manifest is None:
        return None
    if manifest.get("format") != FORMAT:
        raise SnapshotRefused(f"format {manifest.get('format')!r}, not {FORMAT}")
    if manifest.get("layout") != _layout(expected):
        raise SnapshotRefused("written for other frames or columns")
    path = (directory / CURRENT).resolve()
    try:
        seq = int(manifest["seq"])
        mark = uuid.UUID(manifest["mark"])
        raw = (path / TEXT).read_bytes()
        if zlib.crc32(raw) != manifest["text_crc32"]:
            raise SnapshotRefused(f"{TEXT} does not match its checksum")
        text = json.loads(raw)
        frames: dict[str, Frame] = {}
        for name, model in expected.items():
            described = manifest["frames"][name]
            frame = Frame(model.table, model.columns)
            size, capacity = int(described["size"]), int(described["capacity"])
            if not 0 <= size <= capacity:
                raise SnapshotRefused(f"{name}: size {size} of {capacity}")
            mapped: dict[str, Any] = {}
            largest: dict[str, int | None] = {}
            for label, info in described["files"].items():
                try:
                    array = np.load(
                        path / info["file"], mmap_mode="c", allow_pickle=False
                    )
                except (OSError, ValueError) as error:
                    raise SnapshotRefused(f"{info['file']}: {error}") from error
                if array.shape != (capacity,) or array.dtype.str != info["dtype"]:
                    raise SnapshotRefused(f"{info['file']}: shape or type differs")
                crc, largest[label] = _scanned(path / info["file"], array)
                if crc != info["crc32"]:
                    raise SnapshotRefused(f"{info['file']} does not match its checksum")
                mapped[label] = array
            frame.present = mapped.pop(PRESENT)
            for column in frame.columns:
                if column.kind == "obj":
                    values = text[name]["objects"][column.name]
                    if len(values) != size:
                        raise SnapshotRefused(f"{name}.{column.name}: wrong length")
                    frame.data[column.name] = values + [None] * (capacity - size)
                    continue
                if mapped[column.name].dtype != _dtype(column):
                    raise SnapshotRefused(f"{name}.{column.name}: wrong type")
                frame.data[column.name] = mapped[column.name]
                if column.kind == "cat":
                    vocabulary = Vocabulary()
                    for tag, value in text[name]["vocab"][column.name]:
                        vocabulary.code(_untagged(tag, value))
                    top = largest[column.name]  # rows past size hold -1
                    if top is not None and top >= len(vocabulary.values):
                        raise SnapshotRefused(f"{name}.{column.name}: unknown code")
                    frame.vocab[column.name] = vocabulary
            frame.size = size
            frames[name] = frame
    except SnapshotRefused:
        raise
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SnapshotRefused(f"{type(error).__name__}: {error}") from error
    return Snapshot(path=path, seq=seq, mark=mark, frames=frames)
