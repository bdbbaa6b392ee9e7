"""Application-level encryption of PII and keyed blind indexes.

Ciphertexts carry their key id (``v1.<kid>.<base64 nonce+ct>``), so keys rotate
by adding a new active key while old ones still decrypt. The associated data
binds a ciphertext to its record and field: a value copied into another row
does not decrypt. Blind indexes are HMAC-SHA256 of a normalised value, so
duplicates are found without ever comparing plaintext. Blind-index keys have
ids too, but a stored index does not say which key made it (the columns hold
exactly one hex digest): lookups match the index under every key in the ring,
and ``shared.rotation`` recomputes stored indexes under the active key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.files import create_once, private_dir, write_private

if TYPE_CHECKING:
    from shared.settings import ServiceSettings

LOCAL_KEY_FILE = "pii-keys.json"
LEGACY_BLIND_INDEX_KEY_ID = "default"
"""The id of a lone ``BLIND_INDEX_KEY`` (or of the one blind-index key in a
key file written before blind-index keys had ids)."""
_ARABIC_DIACRITICS = re.compile(r"[\u064B-\u065F\u0670\u0640]")
_ARABIC_FOLDS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ى": "ي", "ة": "ه"})


class DecryptionError(Exception):
    """A ciphertext could not be opened (wrong key, tampered, moved)."""


@dataclass(frozen=True)
class KeyRing:
    """PII keys and blind-index keys by id, each with the active one for new
    writes; old keys stay in the ring until ``rotate-keys`` has moved every
    stored value to the active ones."""

    keys: dict[str, bytes] = field(repr=False)
    active: str
    blind_index_keys: dict[str, bytes] = field(repr=False)
    blind_index_active: str
    _ciphers: dict[str, AESGCM] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """One AESGCM per key id, built on first use: building one costs more
    than sealing a name with it (a bulk registration seals three a person)."""

    def _cipher(self, kid: str) -> AESGCM:
        cipher = self._ciphers.get(kid)
        if cipher is None:
            cipher = self._ciphers[kid] = AESGCM(self.keys[kid])
        return cipher

    @classmethod
    def from_settings(
        cls,
        pii_keys: str | None,
        pii_active_key: str | None,
        blind_index_key: str | None,
        data_dir: Path,
        *,
        blind_index_keys: str | None = None,
        blind_index_active: str | None = None,
    ) -> KeyRing:
        """Keys from settings (all set) or from the generated file in data_dir."""
        if blind_index_key and blind_index_keys:
            raise ValueError("set BLIND_INDEX_KEY or BLIND_INDEX_KEYS, not both")
        if blind_index_key:
            blind_index_keys = json.dumps({LEGACY_BLIND_INDEX_KEY_ID: blind_index_key})
        if bool(pii_keys) != bool(blind_index_keys):
            raise ValueError(
                "set both PII_KEYS and BLIND_INDEX_KEYS (or BLIND_INDEX_KEY), "
                "or neither"
            )
        if pii_keys and blind_index_keys:
            keys, active = _ring(pii_keys, pii_active_key, "PII_ACTIVE_KEY")
            index_keys, index_active = _ring(
                blind_index_keys, blind_index_active, "BLIND_INDEX_ACTIVE"
            )
            ring = cls(keys, active, index_keys, index_active)
        else:
            ring = cls._load_or_create_local(data_dir)
        ring.check()
        return ring

    @classmethod
    def _load_or_create_local(cls, data_dir: Path) -> KeyRing:
        """The key file in ``data_dir``, made on first use (mode 0600, folder
        0700); processes starting together all end with the first one's keys."""
        path = data_dir / LOCAL_KEY_FILE
        if path.exists():
            raw = path.read_bytes()
        else:
            private_dir(data_dir)
            content = {
                "pii_keys": {"k1": new_key()},
                "pii_active_key": "k1",
                "blind_index_keys": {"b1": new_key()},
                "blind_index_active": "b1",
            }
            raw = create_once(path, json.dumps(content).encode())
        return cls.from_local_file(json.loads(raw))

    @classmethod
    def from_local_file(cls, content: dict[str, Any]) -> KeyRing:
        """The key file's content; its older form has one ``blind_index_key``."""
        if "blind_index_keys" in content:
            index_keys = content["blind_index_keys"]
            index_active = content["blind_index_active"]
        else:
            index_keys = {LEGACY_BLIND_INDEX_KEY_ID: content["blind_index_key"]}
            index_active = LEGACY_BLIND_INDEX_KEY_ID
        return cls(
            {k: base64.b64decode(v) for k, v in content["pii_keys"].items()},
            content["pii_active_key"],
            {k: base64.b64decode(v) for k, v in index_keys.items()},
            index_active,
        )

    def check(self) -> None:
        if self.active not in self.keys:
            raise ValueError(f"active PII key {self.active!r} is not in the key ring")
        if self.blind_index_active not in self.blind_index_keys:
            raise ValueError(
                f"active blind-index key {self.blind_index_active!r} is not in "
                "the key ring"
            )
        for kid in self.keys:
            if not kid or "." in kid:
                raise ValueError(f"PII key id {kid!r} must be non-empty, without '.'")
        named = {
            **{f"PII key {k!r}": v for k, v in self.keys.items()},
            **{f"blind-index key {k!r}": v for k, v in self.blind_index_keys.items()},
        }
        for name, key in named.items():
            if len(key) != 32:
                raise ValueError(f"{name} must be 32 bytes")

    @property
    def blind_index_key(self) -> bytes:
        """The active blind-index key."""
        return self.blind_index_keys[self.blind_index_active]

    def encrypt(self, plaintext: str | None, context: str) -> str | None:
        """Encrypt with the active key; ``context`` (record id + field) is bound."""
        if plaintext is None:
            return None
        nonce = secrets.token_bytes(12)
        sealed = self._cipher(self.active).encrypt(
            nonce, plaintext.encode(), context.encode()
        )
        return f"v1.{self.active}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, ciphertext: str | None, context: str) -> str | None:
        if ciphertext is None:
            return None
        try:
            version, kid, payload = ciphertext.split(".", 2)
            raw = base64.urlsafe_b64decode(payload)
            cipher = self._cipher(kid)
        except (ValueError, KeyError) as exc:
            raise DecryptionError("unreadable ciphertext or unknown key") from exc
        if version != "v1":
            raise DecryptionError(f"unknown ciphertext version {version!r}")
        try:
            return cipher.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except Exception as exc:
            raise DecryptionError("ciphertext failed authentication") from exc

    def digest(self, message: str, kid: str | None = None) -> str:
        """HMAC-SHA256 (hex) under a blind-index key, the active one by default."""
        key = self.blind_index_keys[kid or self.blind_index_active]
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()

    def digests(self, message: str) -> list[str]:
        """The digest under every blind-index key, the active one first: stored
        digests may have been made with any key in the ring."""
        return [self.digest(message, kid) for kid in self._blind_index_ids()]

    def blind_index(self, kind: str, normalised: str | None) -> str | None:
        """HMAC of a normalised value under the active key, namespaced by kind
        (name, phone ...): what new writes store."""
        if not normalised:
            return None
        return self.digest(f"{kind}:{normalised}")

    def blind_indexes(self, kind: str, normalised: str | None) -> list[str]:
        """Every value a stored index of this value may have (one per key in
        the ring): lookups match any of them, so they keep working while
        ``rotate-keys`` recomputes stored indexes under the active key."""
        if not normalised:
            return []
        return self.digests(f"{kind}:{normalised}")

    def _blind_index_ids(self) -> list[str]:
        active = self.blind_index_active
        return [active, *sorted(k for k in self.blind_index_keys if k != active)]


def keyring_from(settings: ServiceSettings) -> KeyRing:
    """The service's key ring, built alike by the app, its worker and
    ``rotate-keys``. A service that stores no PII gets fresh keys held in
    memory only: it seals nothing, so it neither needs nor writes a key file."""
    if not settings.holds_pii:
        return KeyRing(
            {"k1": secrets.token_bytes(32)}, "k1", {"b1": secrets.token_bytes(32)}, "b1"
        )
    return KeyRing.from_settings(
        settings.pii_keys,
        settings.pii_active_key,
        settings.blind_index_key,
        settings.data_dir,
        blind_index_keys=settings.blind_index_keys,
        blind_index_active=settings.blind_index_active,
    )


def add_local_keys(data_dir: Path) -> tuple[str, str]:
    """Add a fresh PII key and blind-index key to the embedded default's key
    file and make them active (the old ones stay for reading); returns their
    ids. Running services keep their ring until they restart."""
    path = data_dir / LOCAL_KEY_FILE
    ring = KeyRing._load_or_create_local(data_dir)
    pii = _next_id("k", ring.keys)
    blind = _next_id("b", ring.blind_index_keys)
    content = {
        "pii_keys": {
            **{k: base64.b64encode(v).decode() for k, v in ring.keys.items()},
            pii: new_key(),
        },
        "pii_active_key": pii,
        "blind_index_keys": {
            **{
                k: base64.b64encode(v).decode()
                for k, v in ring.blind_index_keys.items()
            },
            blind: new_key(),
        },
        "blind_index_active": blind,
    }
    write_private(path, json.dumps(content).encode())
    return pii, blind


def _next_id(prefix: str, taken: dict[str, bytes]) -> str:
    number = len(taken) + 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"


def key_id(ciphertext: str) -> str | None:
    """The id of the key that sealed a ciphertext (None if unreadable)."""
    parts = ciphertext.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "v1" else None


def new_key() -> str:
    """A fresh 32-byte key, base64 (the form settings and the key file use)."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _ring(
    setting: str, active: str | None, active_name: str
) -> tuple[dict[str, bytes], str]:
    keys = {k: base64.b64decode(v) for k, v in json.loads(setting).items()}
    if not keys:
        raise ValueError(f"the key ring for {active_name} is empty")
    if active is None and len(keys) != 1:
        raise ValueError(f"{active_name} must name the key for new writes")
    return keys, active or next(iter(keys))


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


_NOT_DECIMAL = re.compile(r"\D")  # for text, \d is what ``str.isdecimal`` says


def normalise_phone(phone: str | None) -> str | None:
    """Digits only (Arabic-Indic too), the last nine kept, so +964 770 ...
    and 0770 ... match."""
    if not phone:
        return None
    digits = _NOT_DECIMAL.sub("", phone)  # a fourth of the cost of a loop in Python
    if not digits.isascii():  # Arabic-Indic and other digits, by their value
        digits = "".join(str(unicodedata.digit(c)) for c in digits)
    return digits[-9:] if len(digits) >= 7 else None
