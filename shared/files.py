"""Files the services write themselves (keys, demo tokens, SQLite databases,
exports) are for the service's own user only: folders 0700, files 0600.

Entry points set the umask (``private_umask``) so that what libraries
create is private too; the helpers below give the right mode whatever the
umask, so a test or an embedding process gets it as well."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

import structlog

log = structlog.get_logger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def private_umask() -> None:
    """The first step of every entry point: nothing this process creates
    afterwards is readable by the group or others."""
    os.umask(0o077)


def private_dir(path: Path) -> Path:
    """``path``, created if absent and closed to the group and others: a
    folder an older version left open is tightened, which also hides the
    files it made with wider modes."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(PRIVATE_DIR)
        except PermissionError:  # e.g. a volume owned by root: its owner decides
            log.warning("folder_not_private", path=str(path))
    return path


def open_private(path: Path) -> BinaryIO:
    """``path`` opened for writing from scratch, mode 0600 even if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``, mode 0600: readers see the old file or
    the new one, never half of one, and an old file's wider mode is not kept."""
    temporary = _complete_temporary(path, data)
    try:
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def create_once(path: Path, data: bytes) -> bytes:
    """Write ``data`` to ``path`` (mode 0600) unless it exists; return what
    ``path`` holds. Processes racing on a fresh folder all get the first
    writer's data: the file appears whole (a hard link to a complete file) or
    not at all, and a link never replaces an existing file."""
    temporary = _complete_temporary(path, data)
    try:
        with contextlib.suppress(FileExistsError):  # another process won
            os.link(temporary, path)
    finally:
        temporary.unlink()
    return path.read_bytes()


def _complete_temporary(path: Path, data: bytes) -> Path:
    """A new file (mode 0600) in ``path``'s folder holding ``data``, on disk."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)
