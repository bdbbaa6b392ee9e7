"""Application-level encryption of PII and keyed blind indexes.

Ciphertexts carry their key id (``v1.<kid>.<base64 nonce+ct>``), so keys rotate
by adding a new active key while old ones still decrypt. The associated data
binds a ciphertext to its record and field: a value copied into another row
does not decrypt. Blind indexes are HMAC-SHA256 of a normalised value, so
duplicates are found without ever comparing plaintext.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LOCAL_KEY_FILE = "pii-keys.json"
_ARABIC_DIACRITICS = re.compile(r"[\u064B-\u065F\u0670\u0640]")
_ARABIC_FOLDS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})


class DecryptionError(Exception):
    """A ciphertext could not be opened (wrong key, tampered, moved)."""


@dataclass(frozen=True)
class KeyRing:
    """PII keys by id, the active one for new writes, and the blind-index key."""

    keys: dict[str, bytes]
    active: str
    blind_index_key: bytes

    @classmethod
    def from_settings(
        cls,
        pii_keys: str | None,
        pii_active_key: str | None,
        blind_index_key: str | None,
        data_dir: Path,
    ) -> KeyRing:
        if bool(pii_keys) != bool(blind_index_key):
            raise ValueError("set both PII_KEYS and BLIND_INDEX_KEY, or neither")
        if pii_keys and blind_index_key:
            keys = {k: base64.b64decode(v) for k, v in json.loads(pii_keys).items()}
            if pii_active_key is None and len(keys) != 1:
                raise ValueError("PII_ACTIVE_KEY must name the key for new writes")
            active = pii_active_key or next(iter(keys))
            ring = cls(keys, active, base64.b64decode(blind_index_key))
        else:
            ring = cls._load_or_create_local(data_dir)
        ring.check()
        return ring

    @classmethod
    def _load_or_create_local(cls, data_dir: Path) -> KeyRing:
        path = data_dir / LOCAL_KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            content = {
                "pii_keys": {"k1": base64.b64encode(secrets.token_bytes(32)).decode()},
                "pii_active_key": "k1",
                "blind_index_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            }
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(content, f)
        content = json.loads(path.read_text())
        return cls(
            {k: base64.b64decode(v) for k, v in content["pii_keys"].items()},
            content["pii_active_key"],
            base64.b64decode(content["blind_index_key"]),
        )

    def check(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"active PII key {self.active!r} is not in the key ring")
        for kid, key in {**self.keys, "blind-index": self.blind_index_key}.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes")

    def encrypt(self, plaintext: str | None, context: str) -> str | None:
        """Encrypt with the active key; ``context`` (record id + field) is bound."""
        if plaintext is None:
            return None
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self.keys[self.active]).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"v1.{self.active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str | None, context: str) -> str | None:
        if ciphertext is None:
            return None
        try:
            version, kid, payload = ciphertext.split(".", 2)
            raw = base64.urlsafe_b64decode(payload)
            key = self.keys[kid]
        except (ValueError, KeyError) as exc:
            raise DecryptionError("unreadable ciphertext or unknown key") from exc
        if version != "v1":
            raise DecryptionError(f"unknown ciphertext version {version!r}")
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode()).decode()
        except Exception as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def blind_index(self, kind: str, normalised: str | None) -> str | None:
        """HMAC of a normalised value, namespaced by kind (name, phone ...)."""
        if not normalised:
            return None
        digest = hmac.new(
            self.blind_index_key, f"{kind}:{normalised}".encode(), hashlib.sha256
        )
        return digest.hexdigest()


def normalise_name(name: str | None) -> str | None:
    """Fold case, accents, Arabic diacritics and letter variants, spacing."""
    if not name:
        return None
    text = unicodedata.normalize("NFKC", name).casefold()
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_FOLDS)
    text = "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    )
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split()) or None


def normalise_phone(phone: str | None) -> str | None:
    """Digits only (Arabic-Indic too), the last nine kept, so +964 770 ...
    and 0770 ... match."""
    if not phone:
        return None
    digits = "".join(str(unicodedata.digit(c)) for c in phone if c.isdecimal())
    return digits[-9:] if len(digits) >= 7 else None
