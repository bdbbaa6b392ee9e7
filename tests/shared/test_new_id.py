"""``new_id`` makes what ``uuid.uuid4`` makes: random version-4 UUIDs that
compare, hash, print and pickle as any other."""

from __future__ import annotations

import pickle
import uuid

from shared.db import new_id


def test_ids_are_random_version_4_uuids() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:1000]:
        assert type(value) is uuid.UUID
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        same = uuid.UUID(str(value))
        assert same == value
        assert hash(same) == hash(value)
        assert same.bytes == value.bytes
        assert value.is_safe is uuid.SafeUUID.unknown
        assert pickle.loads(pickle.dumps(value)) == value


def test_every_random_bit_varies() -> None:
    ids = [new_id().int for _ in range(2000)]
    varying = 0
    for value in ids:
        varying |= value ^ ids[0]
    fixed = 0xF000 << 64 | 0xC000 << 48
    assert varying == ((1 << 128) - 1) & ~fixed
