"""``new_id``: random version 4 UUIDs like ``uuid.uuid4()``'s, never the same
twice, and never the parent's in a forked child (ids come from a pool of
random bytes read ahead)."""

from __future__ import annotations

import os
import threading
import uuid

from shared.db import new_id


def test_ids_are_version_4_and_unique() -> None:
    ids = [new_id() for _ in range(5000)]  # more than one pool of bytes
    assert len(set(ids)) == len(ids)
    for made in ids[:300]:
        assert isinstance(made, uuid.UUID)
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert uuid.UUID(str(made)) == made
        assert hash(uuid.UUID(bytes=made.bytes)) == hash(made)


def test_threads_never_share_an_id() -> None:
    made: list[list[uuid.UUID]] = [[], []]

    def draw(into: list[uuid.UUID]) -> None:
        into.extend(new_id() for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(m,)) for m in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not set(made[0]) & set(made[1])


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    new_id()  # the pool is filled: the child starts with a copy of it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.close(read)
        os.write(write, b"".join(new_id().bytes for _ in range(8)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        theirs = pipe.read()
    os.waitpid(child, 0)
    ours = b"".join(new_id().bytes for _ in range(8))
    assert len(theirs) == len(ours) == 128
    assert {theirs[i : i + 16] for i in range(0, 128, 16)}.isdisjoint(
        {ours[i : i + 16] for i in range(0, 128, 16)}
    )
