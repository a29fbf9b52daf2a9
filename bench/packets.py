"""Access-Requests as bytes, built fast (no pyrad on the hot path) and checked once against pyrad.

Every request carries a Message-Authenticator (first attribute, as BlastRADIUS advice has it), a
random Request Authenticator, the PAP-hidden User-Password and a Calling-Station-Id that radiusd
is told to trust as the source address, so failures can be spread over many sources.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterable
from pathlib import Path

ACCESS_REQUEST = 1
USER_NAME, USER_PASSWORD, STATE, CALLING_STATION_ID, MESSAGE_AUTHENTICATOR = 1, 2, 24, 31, 80
NAS_IDENTIFIER = 32
_MA_PLACEHOLDER = bytes([MESSAGE_AUTHENTICATOR, 18]) + bytes(16)


def hide_password(password: bytes, secret: bytes, authenticator: bytes) -> bytes:
    """RFC 2865 section 5.2."""
    padded = password + bytes(-len(password) % 16 or (16 if not password else 0))
    out, last = bytearray(), authenticator
    for i in range(0, len(padded), 16):
        key = hashlib.md5(secret + last).digest()
        block = bytes(a ^ b for a, b in zip(padded[i : i + 16], key, strict=True))
        out += block
        last = block
    return bytes(out)


def _attr(kind: int, value: bytes) -> bytes:
    return bytes([kind, len(value) + 2]) + value


def access_request(
    identifier: int,
    secret: bytes,
    user: str,
    password: str,
    source: str | None = None,
    state: bytes | None = None,
    authenticator: bytes | None = None,
) -> bytes:
    auth = authenticator or os.urandom(16)
    body = (
        _MA_PLACEHOLDER
        + _attr(USER_NAME, user.encode())
        + _attr(USER_PASSWORD, hide_password(password.encode(), secret, auth))
    )
    body += _attr(NAS_IDENTIFIER, b"bench")
    if source is not None:
        body += _attr(CALLING_STATION_ID, source.encode())
    if state is not None:
        body += _attr(STATE, state)
    head = struct.pack("!BBH", ACCESS_REQUEST, identifier, 20 + len(body)) + auth
    mac = hmac.new(secret, head + body, hashlib.md5).digest()
    return head + body[:2] + mac + body[18:]


def source_address(n: int) -> str:
    """The n-th address of 10.0.0.0/8 (skipping .0 and .255 of each /24)."""
    a, b = divmod(n, 254)
    return f"10.{(a >> 8) & 255}.{a & 255}.{b + 1}"


SOCKETS = 64
"""The load generator's UDP sockets (source ports): request i goes out on socket i % SOCKETS."""


def identifier(i: int) -> int:
    """The Identifier of the i-th request: the loadgen matches answers by socket and Identifier,
    and request i is the (i // SOCKETS)-th on its socket."""
    return (i // SOCKETS) & 255


def write_file(path: Path, packets: Iterable[bytes]) -> int:
    """The loadgen input: u32 count, then u16 length + packet each (the i-th with identifier(i))."""
    chunks, count = [], 0
    for i, raw in enumerate(packets):
        assert raw[1] == identifier(i), "the i-th packet's Identifier must be identifier(i)"
        chunks.append(struct.pack("!H", len(raw)) + raw)
        count += 1
    path.write_bytes(struct.pack("!I", count) + b"".join(chunks))
    return count


def hotp(seed: bytes, counter: int, digits: int = 6) -> str:
    """RFC 4226 (the harness's own, to compute codes for 10^5..10^6 users quickly)."""
    mac = hmac.new(seed, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 15
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def check_against_pyrad() -> None:
    """The encoder agrees with pyrad: pyrad recovers the password and verifies the MA."""
    import pyotp
    from pyrad import packet as rp

    from radiusd.radius.dictionary import SHIPPED, load_dictionary

    dictionary = load_dictionary(SHIPPED)
    secret = b"check-secret"
    for password in ("", "x", "0123456789abcdef", "benchpass123456", "p" * 40):
        raw = access_request(7, secret, "alice", password, "10.1.2.3", b"state-1")
        pkt = rp.AuthPacket(packet=raw, secret=secret, dict=dictionary)
        assert pkt.id == 7 and pkt.code == ACCESS_REQUEST
        if password:
            assert pkt.PwDecrypt(pkt[USER_PASSWORD][0]) == password, password
        assert pkt.verify_message_authenticator(), "Message-Authenticator"
        assert pkt[USER_NAME][0] == b"alice" and pkt[STATE][0] == b"state-1"
        assert pkt[CALLING_STATION_ID][0] == b"10.1.2.3"
    seed = bytes(range(20))
    import base64

    ref = pyotp.HOTP(base64.b32encode(seed).decode())
    assert all(hotp(seed, c) == ref.at(c) for c in range(50)), "HOTP"


def status_server(identifier: int, secret: bytes) -> bytes:
    """RFC 5997 Status-Server, signed with a Message-Authenticator."""
    auth = os.urandom(16)
    head = struct.pack("!BBH", 12, identifier, 20 + 18) + auth
    mac = hmac.new(secret, head + _MA_PLACEHOLDER, hashlib.md5).digest()
    return head + _MA_PLACEHOLDER[:2] + mac
