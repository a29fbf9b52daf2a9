"""RADIUS packets as bytes: framing checks, authenticators, decoding and reply encoding.

Pure functions, no sockets and no state, so the server, the tests and the fuzzers share them.
Decoding and encoding go through pyrad; everything pyrad-specific stays in this module so that a
faster hand-written path can replace it (tested byte for byte against pyrad).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable
from dataclasses import dataclass

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from radiusd.engine.types import ReplyAttribute

ACCESS_REQUEST = rp.AccessRequest
ACCESS_ACCEPT = rp.AccessAccept
ACCESS_REJECT = rp.AccessReject
ACCOUNTING_REQUEST = rp.AccountingRequest
ACCOUNTING_RESPONSE = rp.AccountingResponse
ACCESS_CHALLENGE = rp.AccessChallenge
STATUS_SERVER = rp.StatusServer

USER_NAME = 1
USER_PASSWORD = 2
FRAMED_IP_ADDRESS = 8
STATE = 24
CALLING_STATION_ID = 31
PROXY_STATE = 33
MESSAGE_AUTHENTICATOR = 80

MAX_LENGTH = 4096  # RFC 2865 section 3
MAX_PASSWORD = 128  # RFC 2865 section 5.2
_HEADER = struct.Struct("!BBH16s")
_ZERO16 = bytes(16)
_INTEGER_TYPES = frozenset({"integer", "signed", "short", "byte", "integer64", "date"})

Packet = rp.Packet


class MalformedPacket(ValueError):
    """The bytes are not a well-formed RADIUS packet (RFC 2865: silently discarded)."""


class ReplyError(ValueError):
    """A reply attribute cannot be encoded with the loaded dictionary."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A received packet checked for framing, before any decoding or secret is involved."""

    data: bytes
    """Exactly Length octets: padding after the Length field is cut (RFC 2865 section 3)."""
    code: int
    identifier: int
    authenticator: bytes
    ma_offset: int
    """Offset of the Message-Authenticator value, -1 when the packet has none."""
    proxy_state: bool


def parse_frame(data: bytes) -> Frame:
    if len(data) < 20:
        raise MalformedPacket("shorter than a RADIUS header")
    code, identifier, length, authenticator = _HEADER.unpack_from(data)
    if length < 20 or length > MAX_LENGTH or length > len(data):
        raise MalformedPacket(f"invalid Length {length} for {len(data)} octets")
    if len(data) > length:
        data = data[:length]
    pos, ma_offset, proxy_state = 20, -1, False
    while pos < length:
        if pos + 2 > length:
            raise MalformedPacket("truncated attribute header")
        kind, size = data[pos], data[pos + 1]
        if size < 2 or pos + size > length:
            raise MalformedPacket(f"attribute {kind} has invalid length {size}")
        if kind == MESSAGE_AUTHENTICATOR:
            if size != 18 or ma_offset != -1:
                raise MalformedPacket("Message-Authenticator must be one attribute of 16 octets")
            ma_offset = pos + 2
        elif kind == PROXY_STATE:
            proxy_state = True
        pos += size
    return Frame(data, code, identifier, authenticator, ma_offset, proxy_state)


def message_authenticator_valid(frame: Frame, secret: bytes) -> bool:
    """RFC 3579 section 3.2; for Accounting-Request the authenticator field counts as zeros."""
    data, at = frame.data, frame.ma_offset
    head = data[:4] + _ZERO16 if frame.code == ACCOUNTING_REQUEST else data[:20]
    mac = hmac.new(secret, head + data[20:at] + _ZERO16 + data[at + 16 :], hashlib.md5).digest()
    return hmac.compare_digest(mac, data[at : at + 16])


def accounting_authenticator_valid(frame: Frame, secret: bytes) -> bool:
    """RFC 2866 section 3: MD5(code, id, length, 16 zero octets, attributes, secret)."""
    data = frame.data
    digest = hashlib.md5(data[:4] + _ZERO16 + data[20:] + secret).digest()
    return hmac.compare_digest(digest, frame.authenticator)


def decode(frame: Frame, secret: bytes, dictionary: Dictionary) -> Packet:
    cls = rp.AcctPacket if frame.code == ACCOUNTING_REQUEST else rp.AuthPacket
    try:
        return cls(packet=frame.data, secret=secret, dict=dictionary)
    except Exception as exc:  # pyrad raises several kinds for bad attribute contents
        raise MalformedPacket(f"cannot decode: {exc}") from None


def raw_values(packet: Packet, code: int) -> list[bytes]:
    """The undecoded values of a standard attribute, in order (pyrad keys them by code)."""
    values: list[bytes] = packet.get(code) or []
    return values


def first_text(packet: Packet, code: int) -> str | None:
    values = raw_values(packet, code)
    return values[0].decode("utf-8", "replace") if values else None


def user_password(packet: Packet) -> str | None:
    """The PAP password (RFC 2865 section 5.2), or None when the request carries none."""
    values = raw_values(packet, USER_PASSWORD)
    if not values:
        return None
    hidden = values[0]
    if not hidden or len(hidden) % 16 or len(hidden) > MAX_PASSWORD:
        raise MalformedPacket(f"User-Password of {len(hidden)} octets")
    password: str = packet.PwDecrypt(hidden)
    return password


def _coerce(dictionary: Dictionary, name: str, value: str | int | bytes) -> str | int | bytes:
    try:
        attr = dictionary.attributes[name]
    except KeyError:
        raise ReplyError(f"attribute {name!r} is not in the dictionary") from None
    if attr.type in _INTEGER_TYPES and isinstance(value, str) and not attr.values.HasForward(value):
        try:
            return int(value)
        except ValueError:
            raise ReplyError(f"attribute {name!r} needs a number or a named value") from None
    if attr.type == "string" and isinstance(value, int):
        return str(value)
    return value


def encode_reply(
    request: Packet,
    code: int,
    attributes: Iterable[ReplyAttribute],
    message_authenticator: bool,
) -> bytes:
    """The reply to a decoded request: Proxy-State copied verbatim and in order, and when asked a
    Message-Authenticator as the first attribute (BlastRADIUS, CVE-2024-3596)."""
    reply = request.CreateReply(message_authenticator=message_authenticator)
    reply.code = code
    try:
        for name, value in attributes:
            reply.AddAttribute(name, _coerce(request.dict, name, value))
        raw: bytes = reply.ReplyPacket()
    except ReplyError:
        raise
    except Exception as exc:
        raise ReplyError(f"cannot encode reply: {exc}") from None
    if len(raw) > MAX_LENGTH:
        raise ReplyError(f"reply of {len(raw)} octets exceeds {MAX_LENGTH}")
    return raw
