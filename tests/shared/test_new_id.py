"""Ids the server makes (``shared.db.new_id``) are random version 4 UUIDs,
as ``uuid.uuid4()`` made them; they, and a batch's ids kept in the same
class (``DriverId``), behave as the standard class does wherever an id
goes: compared, hashed, written as text or JSON, sorted."""

from __future__ import annotations

import json
import uuid

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from shared.db import DriverId, as_driver_id, dump_json, new_id, sorted_ids
from shared.queue import serialize_job


def test_an_id_is_a_random_version_4_uuid() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for made in ids:
        assert isinstance(made, uuid.UUID)
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert uuid.UUID(str(made), version=4) == made  # no bit changed by the check
    # every other bit is random: each is seen both set and clear
    fixed = (0xF000 << 64) | (0xC000 << 48)
    seen_set = seen_clear = 0
    for made in ids:
        seen_set |= made.int
        seen_clear |= ~made.int
    assert seen_set & ~fixed == (1 << 128) - 1 & ~fixed
    assert seen_clear & ~fixed & ((1 << 128) - 1) == (1 << 128) - 1 & ~fixed


@pytest.mark.parametrize(
    "made", [new_id(), as_driver_id(uuid.uuid4())], ids=["new", "converted"]
)
def test_an_id_is_equal_to_and_found_as_the_standard_one(made: uuid.UUID) -> None:
    standard = uuid.UUID(str(made))
    assert type(made) is not uuid.UUID
    assert made == standard
    assert standard == made
    assert hash(made) == hash(standard)
    assert {standard: 1}[made] == 1
    assert {made: 1}[standard] == 1
    assert uuid.UUID(int=made.int + 1) != made
    assert made != str(made)
    assert (made.bytes, made.int, made.hex) == (
        standard.bytes,
        standard.int,
        standard.hex,
    )
    assert str(made) == str(standard)
    assert sorted_ids([made, standard]) == [made]
    assert json.loads(dump_json({"id": made, "ids": [made]})) == {
        "id": str(made),
        "ids": [str(made)],
    }
    assert orjson.loads(serialize_job({"id": made})) == {"id": str(made)}


class _Change(BaseModel):
    id: DriverId


def test_a_driver_id_field_validates_and_describes_as_a_uuid() -> None:
    sent = uuid.uuid4()
    assert _Change.model_validate({"id": str(sent).upper()}).id == sent
    assert _Change.model_validate({"id": sent}).id == sent
    with pytest.raises(ValidationError) as refused:
        _Change.model_validate({"id": "not-an-id"})
    assert refused.value.errors()[0]["type"] == "uuid_parsing"
    assert _Change.model_json_schema()["properties"]["id"] == {
        "format": "uuid",
        "title": "Id",
        "type": "string",
    }
    assert _Change(id=sent).model_dump(mode="json") == {"id": str(sent)}
