from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.crypto import DecryptionError, KeyRing, normalise_name, normalise_phone


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
    import base64
    import json

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
        other_key = KeyRing(keyring.keys, keyring.active, bytes(32))
        assert first != other_key.blind_index("name", normalised)


def test_keys_come_both_or_neither(tmp_path: Path) -> None:
    import base64
    import json

    key = base64.b64encode(bytes(32)).decode()
    with pytest.raises(ValueError, match="both"):
        KeyRing.from_settings(json.dumps({"k1": key}), "k1", None, tmp_path)
    with pytest.raises(ValueError, match="PII_ACTIVE_KEY"):
        KeyRing.from_settings(json.dumps({"k1": key, "k2": key}), None, key, tmp_path)
