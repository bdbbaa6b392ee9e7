from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.crypto import (
    LOCAL_KEY_FILE,
    DecryptionError,
    KeyRing,
    add_local_keys,
    key_id,
    normalise_name,
    normalise_phone,
)


@pytest.fixture(scope="module")
def keyring(tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    return KeyRing.from_settings(None, None, None, tmp_path_factory.mktemp("keys"))


@given(st.text(max_size=300))
def test_round_trip(keyring: KeyRing, plaintext: str) -> None:
    sealed = keyring.encrypt(plaintext, "beneficiary:1:full_name")
    assert sealed is not None
    if len(plaintext) >= 8:
        assert plaintext not in sealed
    assert keyring.decrypt(sealed, "beneficiary:1:full_name") == plaintext


def test_ciphertext_is_bound_to_its_record_and_field(keyring: KeyRing) -> None:
    sealed = keyring.encrypt("Layla", "beneficiary:1:full_name")
    with pytest.raises(DecryptionError):
        keyring.decrypt(sealed, "beneficiary:2:full_name")
    with pytest.raises(DecryptionError):
        keyring.decrypt(sealed, "beneficiary:1:phone")


def test_tampering_is_detected(keyring: KeyRing) -> None:
    sealed = keyring.encrypt("Layla", "ctx")
    assert sealed is not None
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(DecryptionError):
        keyring.decrypt(flipped, "ctx")


def test_old_keys_still_decrypt_after_rotation(tmp_path: Path) -> None:
    k1, k2, bidx = (base64.b64encode(bytes([i]) * 32).decode() for i in (1, 2, 3))
    old = KeyRing.from_settings(json.dumps({"k1": k1}), "k1", bidx, tmp_path)
    sealed = old.encrypt("Omar", "ctx")
    new = KeyRing.from_settings(json.dumps({"k1": k1, "k2": k2}), "k2", bidx, tmp_path)
    assert new.decrypt(sealed, "ctx") == "Omar"
    assert (new.encrypt("Omar", "ctx") or "").startswith("v1.k2.")
    with pytest.raises(ValueError, match="not in the key ring"):
        KeyRing.from_settings(json.dumps({"k1": k1}), "k9", bidx, tmp_path)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("أحمد علي", "احمد  علي"),
        ("Ahmad  ALI", "ahmad ali"),
        ("فاطمة", "فاطمه"),
        ("José", "jose"),
        ("مُحَمَّد", "محمد"),
    ],
)
def test_name_variants_normalise_alike(a: str, b: str) -> None:
    assert normalise_name(a) == normalise_name(b)


@pytest.mark.parametrize(
    "phone", ["+964 770 123 4567", "0770-123-4567", "00964 7701234567", "٠٧٧٠١٢٣٤٥٦٧"]
)
def test_phone_formats_normalise_alike(phone: str) -> None:
    assert normalise_phone(phone) == "701234567"


@given(st.text(max_size=100))
def test_blind_index_is_keyed_and_deterministic(keyring: KeyRing, value: str) -> None:
    normalised = normalise_name(value)
    first = keyring.blind_index("name", normalised)
    assert first == keyring.blind_index("name", normalised)
    if normalised:
        assert first != keyring.blind_index("phone", normalised)
        other_key = KeyRing(keyring.keys, keyring.active, {"x": bytes(32)}, "x")
        assert first != other_key.blind_index("name", normalised)


def test_keys_come_both_or_neither(tmp_path: Path) -> None:
    key = base64.b64encode(bytes(32)).decode()
    with pytest.raises(ValueError, match="both"):
        KeyRing.from_settings(json.dumps({"k1": key}), "k1", None, tmp_path)
    with pytest.raises(ValueError, match="PII_ACTIVE_KEY"):
        KeyRing.from_settings(json.dumps({"k1": key, "k2": key}), None, key, tmp_path)


def b64(byte: int) -> str:
    return base64.b64encode(bytes([byte]) * 32).decode()


def test_a_lone_blind_index_key_indexes_as_before(tmp_path: Path) -> None:
    ring = KeyRing.from_settings(json.dumps({"k1": b64(1)}), None, b64(3), tmp_path)
    expected = hmac.new(bytes([3]) * 32, b"name:layla", hashlib.sha256).hexdigest()
    assert ring.blind_index_active == "default"
    assert ring.blind_index("name", "layla") == expected
    assert ring.blind_indexes("name", "layla") == [expected]
    assert ring.blind_indexes("name", None) == []


def test_blind_index_keys_rotate(tmp_path: Path) -> None:
    pii = json.dumps({"k1": b64(1)})
    old = KeyRing.from_settings(pii, None, b64(3), tmp_path)
    both = json.dumps({"b1": b64(3), "b2": b64(4)})
    new = KeyRing.from_settings(
        pii, None, None, tmp_path, blind_index_keys=both, blind_index_active="b2"
    )
    stored = old.blind_index("phone", "701234567")
    assert new.blind_index("phone", "701234567") != stored
    assert new.blind_indexes("phone", "701234567") == [
        new.blind_index("phone", "701234567"),
        stored,
    ]
    assert new.digests("payload")[1] == old.digest("payload")
    with pytest.raises(ValueError, match="BLIND_INDEX_ACTIVE"):
        KeyRing.from_settings(pii, None, None, tmp_path, blind_index_keys=both)
    with pytest.raises(ValueError, match="not in the key ring"):
        KeyRing.from_settings(
            pii, None, None, tmp_path, blind_index_keys=both, blind_index_active="b9"
        )
    with pytest.raises(ValueError, match="not both"):
        KeyRing.from_settings(pii, None, b64(3), tmp_path, blind_index_keys=both)
    with pytest.raises(ValueError, match="32 bytes"):
        KeyRing.from_settings(
            pii, None, None, tmp_path, blind_index_keys=json.dumps({"b1": b64(1)[:8]})
        )


def test_key_ids_and_key_material(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="without '.'"):
        KeyRing.from_settings(json.dumps({"k.1": b64(1)}), None, b64(3), tmp_path)
    ring = KeyRing.from_settings(json.dumps({"k1": b64(1)}), None, b64(3), tmp_path)
    assert key_id(ring.encrypt("Omar", "ctx") or "") == "k1"
    assert key_id("not a ciphertext") is None
    assert str(bytes([1]) * 32) not in repr(ring)
    assert "\\x01" not in repr(ring)


def test_a_key_file_from_before_blind_index_key_ids_still_loads(
    tmp_path: Path,
) -> None:
    (tmp_path / LOCAL_KEY_FILE).write_text(
        json.dumps(
            {
                "pii_keys": {"k1": b64(1)},
                "pii_active_key": "k1",
                "blind_index_key": b64(3),
            }
        )
    )
    ring = KeyRing.from_settings(None, None, None, tmp_path)
    assert ring.blind_index_keys == {"default": bytes([3]) * 32}


def test_new_local_keys_join_the_ring_as_active(tmp_path: Path) -> None:
    before = KeyRing.from_settings(None, None, None, tmp_path)
    sealed = before.encrypt("Layla", "ctx")
    stored = before.blind_index("name", "layla")
    assert add_local_keys(tmp_path) == ("k2", "b2")
    after = KeyRing.from_settings(None, None, None, tmp_path)
    assert (after.active, after.blind_index_active) == ("k2", "b2")
    assert after.decrypt(sealed, "ctx") == "Layla"
    assert key_id(after.encrypt("Layla", "ctx") or "") == "k2"
    assert stored in after.blind_indexes("name", "layla")
    assert stored != after.blind_index("name", "layla")
    assert (tmp_path / LOCAL_KEY_FILE).stat().st_mode & 0o777 == 0o600
