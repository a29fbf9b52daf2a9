"""AES-256-GCM encryption of secrets at rest under a key ring kept in one file (mode 0600).

Each ciphertext names the key that sealed it ("v1.<key id>.<base64url(nonce + ciphertext)>"), so
`radiusd key rotate` can add a new current key and re-encrypt rows while running servers still read
both: a server that meets an unknown key id reloads the file once before giving up.
The associated data binds a ciphertext to its purpose, so a RADIUS secret cannot be replayed as a
token seed.
`derive` gives keys for other uses (keyed hashes) by HKDF-SHA256 from a ring key and a purpose
label, so a derived key never equals the AES key nor another purpose's key.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = "v1"

# Associated data per kind of secret: a ciphertext opens only for the purpose it was sealed for.
PURPOSE_TOKEN = "token-secret"
PURPOSE_CLIENT = "radius-client-secret"

DERIVE_INFO = b"radiusd derived key v1\x00"
"""HKDF info prefix; the purpose label follows it."""


class KeyringError(Exception):
    pass


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    def __init__(self, path: Path, current: str, keys: dict[str, bytes]) -> None:
        self.path = path
        self.current = current
        self._keys = keys
        self._ciphers: dict[str, tuple[bytes, AESGCM]] = {}
        self._lock = threading.Lock()

    # -- file handling -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            raw = json.loads(path.read_text())
            keys = {kid: _b64d(value) for kid, value in raw["keys"].items()}
            current = raw["current"]
        except FileNotFoundError:
            raise KeyringError(f"{path}: key file not found (run 'radiusd init')") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyringError(f"{path}: not a radiusd key file ({exc})") from None
        if current not in keys or any(len(k) != 32 for k in keys.values()):
            raise KeyringError(f"{path}: not a radiusd key file (bad key or current id)")
        return cls(path, current, keys)

    @classmethod
    def create(cls, path: Path) -> Keyring:
        """Create a new key file with one key; refuses to overwrite an existing one."""
        ring = cls(path, "", {})
        ring._add_key()
        ring._write(exclusive=True)
        return ring

    def rotate(self) -> str:
        """Add a new key and make it current; old keys stay so that old ciphertexts still open."""
        with self._lock:
            kid = self._add_key()
            self._write(exclusive=False)
            return kid

    def stage(self) -> str:
        """Add a new key without sealing anything under it yet. Several nodes with their own copy
        of the key file first receive the staged key, then one of them activates it: no node ever
        meets a ciphertext under a key it does not hold."""
        with self._lock:
            current = self.current
            kid = self._add_key()
            self.current = current
            self._write(exclusive=False)
            return kid

    def activate(self, kid: str) -> None:
        """Make a staged key current."""
        with self._lock:
            if kid not in self._keys:
                raise KeyringError(f"{self.path}: no key {kid!r} (staged keys: {', '.join(self._keys)})")
            self.current = kid
            self._write(exclusive=False)

    def _add_key(self) -> str:
        kid = "k" + secrets.token_hex(4)
        self._keys[kid] = AESGCM.generate_key(bit_length=256)
        self.current = kid
        return kid

    def _write(self, exclusive: bool) -> None:
        body = json.dumps(
            {"current": self.current, "keys": {kid: _b64e(k) for kid, k in self._keys.items()}}, indent=2
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if exclusive:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(body + "\n")
            return
        # Write beside and rename, so a reader never sees half a file.
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(body + "\n")
        os.replace(tmp, self.path)

    def _reload(self) -> None:
        fresh = Keyring.load(self.path)
        with self._lock:
            self._keys, self.current = fresh._keys, fresh.current

    # -- sealing -------------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._keys[self.current]).encrypt(nonce, plaintext, purpose.encode())
        return f"{VERSION}.{self.current}.{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, purpose: str) -> bytes:
        try:
            version, kid, body = token.split(".", 2)
        except ValueError:
            raise KeyringError("malformed ciphertext") from None
        if version != VERSION:
            raise KeyringError(f"unknown ciphertext version {version!r}")
        if kid not in self._keys:
            self._reload()  # rotated by another process since we loaded the file
            if kid not in self._keys:
                raise KeyringError(f"unknown key id {kid!r}")
        raw = _b64d(body)
        try:
            return self._cipher(kid).decrypt(raw[:12], raw[12:], purpose.encode())
        except Exception:
            raise KeyringError("ciphertext does not authenticate") from None

    def _cipher(self, kid: str) -> AESGCM:
        """The AES-GCM context of a ring key, set up once (every login opens a seed with it)."""
        key = self._keys[kid]
        cached = self._ciphers.get(kid)
        if cached is None or cached[0] is not key:
            cached = self._ciphers[kid] = (key, AESGCM(key))
        return cached[1]

    # -- derived keys --------------------------------------------------------------------------

    def derive(self, purpose: str, key_id: str | None = None) -> tuple[str, bytes]:
        """A 32-byte key for `purpose` (HKDF-SHA256 of a ring key), with the id of that ring key.

        Without key_id, from the current key (to make something new); with the id a stored value
        names, from that key (to check it after a rotation), reloading the file once for an id
        another process added. KeyringError for an id the ring does not hold.
        """
        if not purpose:
            raise ValueError("a derived key needs a purpose")
        kid = self.current if key_id is None else key_id
        if kid not in self._keys:
            self._reload()
            if kid not in self._keys:
                raise KeyringError(f"unknown key id {kid!r}")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVE_INFO + purpose.encode())
        return kid, hkdf.derive(self._keys[kid])

    def key_id(self, token: str) -> str:
        return token.split(".", 2)[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id(token) != self.current
