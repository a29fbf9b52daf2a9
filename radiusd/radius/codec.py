"""RADIUS packets as bytes: framing checks, authenticators, decoding and reply encoding.

Pure functions, no sockets and no state, so the server, the tests and the fuzzers share them.
Everything pyrad-specific stays in this module. Access-Requests and Status-Server are read by a
hand-written fast path (parse_frame keeps the few attributes translation uses) and replies are built
with struct and one HMAC-MD5, byte for byte what pyrad builds (tests/radius/test_radius_codec_pyrad.py);
Accounting-Requests are decoded through pyrad, and a reply with an attribute the fast path does not
encode (tagged, encrypted, TLV, unknown) is built by pyrad.
"""

from __future__ import annotations

import hmac
import struct
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Sequence

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from radiusd.crypto import hashes
from radiusd.crypto.prepared_hmac import md5_hmac
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
NAS_IP_ADDRESS = 4
FRAMED_IP_ADDRESS = 8
REPLY_MESSAGE = 18
STATE = 24
CALLED_STATION_ID = 30
CALLING_STATION_ID = 31
NAS_IDENTIFIER = 32
PROXY_STATE = 33
NAS_PORT_TYPE = 61
MESSAGE_AUTHENTICATOR = 80

KEPT = frozenset(
    {
        USER_NAME,
        USER_PASSWORD,
        NAS_IP_ADDRESS,
        FRAMED_IP_ADDRESS,
        STATE,
        CALLED_STATION_ID,
        CALLING_STATION_ID,
        NAS_IDENTIFIER,
        PROXY_STATE,
        NAS_PORT_TYPE,
    }
)
"""The attributes parse_frame keeps: all that translation and replies read. Other attributes of an
Access-Request are not decoded; Accounting-Requests are decoded in full through pyrad."""

MAX_LENGTH = 4096  # RFC 2865 section 3
MAX_PASSWORD = 128  # RFC 2865 section 5.2
_HEADER = struct.Struct("!BBH16s")
_ZERO16 = bytes(16)
_REPLY_HEAD = struct.Struct("!BBH")
_VSA_HEAD = struct.Struct("!BBLBB")
_MA_HEAD = bytes((MESSAGE_AUTHENTICATOR, 18))
_MA_ZEROED = _MA_HEAD + _ZERO16
_INTEGER_TYPES = frozenset({"integer", "signed", "short", "byte", "integer64", "date"})

Packet = rp.Packet


class MalformedPacket(ValueError):
    """The bytes are not a well-formed RADIUS packet (RFC 2865: silently discarded)."""


class ReplyError(ValueError):
    """A reply attribute cannot be encoded with the loaded dictionary."""


class Frame:
    """A received packet checked for framing, before any secret is involved. The walk over the
    attributes that checks their lengths also keeps the raw values the engine and the reply need."""

    __slots__ = ("authenticator", "code", "data", "identifier", "ma_offset", "values")

    def __init__(
        self,
        data: bytes,
        code: int,
        identifier: int,
        authenticator: bytes,
        ma_offset: int,
        values: dict[int, list[bytes]],
    ) -> None:
        self.data = data
        """Exactly Length octets: padding after the Length field is cut (RFC 2865 section 3)."""
        self.code = code
        self.identifier = identifier
        self.authenticator = authenticator
        self.ma_offset = ma_offset
        """Offset of the Message-Authenticator value, -1 when the packet has none."""
        self.values = values
        """Raw values of the attributes in KEPT, in the order received (only those present)."""

    @property
    def proxy_state(self) -> bool:
        return PROXY_STATE in self.values


def parse_frame(data: bytes) -> Frame:
    if len(data) < 20:
        raise MalformedPacket("shorter than a RADIUS header")
    code, identifier, length, authenticator = _HEADER.unpack_from(data)
    if length < 20 or length > MAX_LENGTH or length > len(data):
        raise MalformedPacket(f"invalid Length {length} for {len(data)} octets")
    if len(data) > length:
        data = data[:length]
    pos, ma_offset = 20, -1
    values: dict[int, list[bytes]] = {}
    kept = KEPT
    while pos < length:
        if pos + 2 > length:
            raise MalformedPacket("truncated attribute header")
        kind, size = data[pos], data[pos + 1]
        end = pos + size
        if size < 2 or end > length:
            raise MalformedPacket(f"attribute {kind} has invalid length {size}")
        if kind == MESSAGE_AUTHENTICATOR:
            if size != 18 or ma_offset != -1:
                raise MalformedPacket("Message-Authenticator must be one attribute of 16 octets")
            ma_offset = pos + 2
        elif kind in kept:
            found = values.get(kind)
            if found is None:
                values[kind] = [data[pos + 2 : end]]
            else:
                found.append(data[pos + 2 : end])
        pos = end
    return Frame(data, code, identifier, authenticator, ma_offset, values)


def message_authenticator_valid(frame: Frame, secret: bytes) -> bool:
    """RFC 3579 section 3.2; for Accounting-Request the authenticator field counts as zeros."""
    data, at = frame.data, frame.ma_offset
    head = data[:4] + _ZERO16 if frame.code == ACCOUNTING_REQUEST else data[:20]
    mac = md5_hmac(secret).digest(head + data[20:at] + _ZERO16 + data[at + 16 :])
    return hmac.compare_digest(mac, data[at : at + 16])


def accounting_authenticator_valid(frame: Frame, secret: bytes) -> bool:
    """RFC 2866 section 3: MD5(code, id, length, 16 zero octets, attributes, secret)."""
    data = frame.data
    digest = hashes.md5(data[:4] + _ZERO16 + data[20:] + secret).digest()
    return hmac.compare_digest(digest, frame.authenticator)


def decode(frame: Frame, secret: bytes, dictionary: Dictionary) -> Packet:
    """Every attribute through pyrad: for Accounting-Requests, whose record keeps them all."""
    cls = rp.AcctPacket if frame.code == ACCOUNTING_REQUEST else rp.AuthPacket
    try:
        return cls(packet=frame.data, secret=secret, dict=dictionary)
    except Exception as exc:  # pyrad raises several kinds for bad attribute contents
        raise MalformedPacket(f"cannot decode: {exc}") from None


class Request:
    """A checked Access-Request or Status-Server (or an Accounting-Request being answered), decoded by
    the fast path: the frame's kept attributes, the secret that hides the password and signs the
    reply, and the dictionary for reply attributes."""

    __slots__ = ("dictionary", "frame", "secret")

    def __init__(self, frame: Frame, secret: bytes, dictionary: Dictionary) -> None:
        self.frame, self.secret, self.dictionary = frame, secret, dictionary


def raw_values(request: Request, code: int) -> Sequence[bytes]:
    """The raw values of a kept attribute, in order."""
    return request.frame.values.get(code, ())


def first_text(request: Request, code: int) -> str | None:
    values = request.frame.values.get(code)
    return values[0].decode("utf-8", "replace") if values else None


def user_password(request: Request) -> str | None:
    """The PAP password (RFC 2865 section 5.2), or None when the request carries none."""
    values = request.frame.values.get(USER_PASSWORD)
    if not values:
        return None
    hidden = values[0]
    if not hidden or len(hidden) % 16 or len(hidden) > MAX_PASSWORD:
        raise MalformedPacket(f"User-Password of {len(hidden)} octets")
    return unhide_password(hidden, request.secret, request.frame.authenticator)


def unhide_password(hidden: bytes, secret: bytes, authenticator: bytes) -> str:
    """RFC 2865 section 5.2, as pyrad's PwDecrypt: trailing NULs cut, invalid UTF-8 ignored (a wrong
    secret gives garbage, which then fails as a wrong password)."""
    keyed = hashes.md5(secret)
    plain = bytearray()
    last = authenticator
    for at in range(0, len(hidden), 16):
        block = hidden[at : at + 16]
        pad = keyed.copy()
        pad.update(last)
        plain += (int.from_bytes(pad.digest()) ^ int.from_bytes(block)).to_bytes(16)
        last = block
    return plain.rstrip(b"\0").decode("utf-8", "ignore")


# -- replies ------------------------------------------------------------------------------------

_Kind = tuple[Hashable, int, int, int]
"""How a reply attribute is encoded: (pyrad's key, vendor id or -1, code, _THROUGH_PYRAD/_TEXT/_OCTETS)."""
_THROUGH_PYRAD, _TEXT, _OCTETS = 0, 1, 2


class _ReplyEncoder:
    """Reply attributes per dictionary: each name looked up once; a value that is not plain text or
    octets (integers, addresses, named values) encoded through pyrad once and cached. None for
    anything pyrad must handle itself (unknown, tagged, encrypted, TLV)."""

    CACHE = 4096

    def __init__(self, dictionary: Dictionary) -> None:
        self.dictionary = dictionary
        self.kinds: dict[str, _Kind | None] = {}
        self.encoded: dict[tuple[str, type, object], bytes | None] = {}

    def kind(self, name: str) -> _Kind | None:
        try:
            return self.kinds[name]
        except KeyError:
            pass
        attr = self.dictionary.attributes.get(name)
        kind: _Kind | None = None
        if attr is not None and not (
            attr.encrypt or attr.has_tag or attr.is_sub_attribute or attr.type == "tlv"
        ):
            vendor = self.dictionary.vendors.GetForward(attr.vendor) if attr.vendor else -1
            key: Hashable = (vendor, attr.code) if attr.vendor else attr.code
            mode = _THROUGH_PYRAD
            if not len(attr.values):
                mode = {"string": _TEXT, "octets": _OCTETS}.get(attr.type, _THROUGH_PYRAD)
            if key != MESSAGE_AUTHENTICATOR:
                kind = (key, vendor, attr.code, mode)
        self.kinds[name] = kind
        return kind

    def attribute(self, name: str, value: str | int | bytes) -> tuple[Hashable, bytes] | None:
        kind = self.kind(name)
        if kind is None:
            return None
        key, vendor, code, mode = kind
        raw: bytes | None = None
        if mode == _TEXT:
            if isinstance(value, str):
                raw = value.encode()
            elif isinstance(value, bytes):
                raw = value
        elif mode == _OCTETS and isinstance(value, bytes) and not value.startswith(b"0x"):
            raw = value  # pyrad reads octets starting with "0x" as hex
        if raw is None:
            return self._through_pyrad(name, key, value)
        size = len(raw)
        if vendor < 0:
            if size > 253:
                return None
            return key, bytes((code, size + 2)) + raw
        if size > 247:
            return None
        return key, _VSA_HEAD.pack(26, size + 8, vendor, code, size + 2) + raw

    def _through_pyrad(
        self, name: str, key: Hashable, value: str | int | bytes
    ) -> tuple[Hashable, bytes] | None:
        cache_key = (name, type(value), value)
        try:
            raw = self.encoded[cache_key]
        except KeyError:
            scratch = rp.Packet(id=0, dict=self.dictionary)
            try:
                scratch.AddAttribute(name, _coerce(self.dictionary, name, value))
                raw = scratch._PktEncodeAttributes()
            except Exception:  # the whole reply goes through pyrad and reports it
                raw = None
            if len(self.encoded) >= self.CACHE:
                self.encoded.clear()
            self.encoded[cache_key] = raw
        return None if raw is None else (key, raw)


_ENCODERS: dict[int, _ReplyEncoder] = {}


def _encoder(dictionary: Dictionary) -> _ReplyEncoder:
    encoder = _ENCODERS.get(id(dictionary))
    if encoder is None or encoder.dictionary is not dictionary:
        if len(_ENCODERS) >= 8:
            _ENCODERS.clear()
        encoder = _ENCODERS[id(dictionary)] = _ReplyEncoder(dictionary)
    return encoder


def encode_reply(
    request: Request | Packet,
    code: int,
    attributes: Iterable[ReplyAttribute],
    message_authenticator: bool,
) -> bytes:
    """The reply to a request: Proxy-State copied verbatim and in order, then the attributes grouped
    by attribute in the order of their first appearance (as pyrad orders them), and when asked a
    Message-Authenticator as the first attribute (BlastRADIUS, CVE-2024-3596).

    Built with struct and one HMAC-MD5, byte for byte what pyrad builds (tests/radius/
    test_radius_codec_pyrad.py); replies with attributes the fast path does not know, and replies
    to packets decoded by pyrad, go through pyrad."""
    if isinstance(request, rp.Packet):
        return encode_reply_pyrad(request, code, attributes, message_authenticator)
    frame = request.frame
    proxy = frame.values.get(PROXY_STATE)
    if not isinstance(attributes, list | tuple):
        attributes = list(attributes)
    if attributes:
        encoder = _encoder(request.dictionary)
        groups: dict[Hashable, list[bytes]] = {}
        if proxy:
            groups[PROXY_STATE] = [bytes((PROXY_STATE, len(v) + 2)) + v for v in proxy]
        for name, value in attributes:
            encoded = encoder.attribute(name, value)
            if encoded is None:
                return _pyrad_reply(request, code, attributes, message_authenticator)
            key, raw = encoded
            group = groups.get(key)
            if group is None:
                groups[key] = [raw]
            else:
                group.append(raw)
        body = b"".join([raw for group in groups.values() for raw in group])
    elif proxy:
        body = b"".join([bytes((PROXY_STATE, len(v) + 2)) + v for v in proxy])
    else:
        body = b""
    secret, authenticator = request.secret, frame.authenticator
    if message_authenticator:
        length = 38 + len(body)
        if length > MAX_LENGTH:
            raise ReplyError(f"reply of {length} octets exceeds {MAX_LENGTH}")
        head = _REPLY_HEAD.pack(code, frame.identifier, length)
        # RFC 2869 5.14 and RFC 5997 3: an Accounting-Response is signed over zeros, unless it
        # answers a Status-Server
        vector = _ZERO16 if code == ACCOUNTING_RESPONSE and frame.code != STATUS_SERVER else authenticator
        mac = md5_hmac(secret).digest(head + vector + _MA_ZEROED + body)
        body = _MA_HEAD + mac + body
    else:
        length = 20 + len(body)
        if length > MAX_LENGTH:
            raise ReplyError(f"reply of {length} octets exceeds {MAX_LENGTH}")
        head = _REPLY_HEAD.pack(code, frame.identifier, length)
    return head + hashes.md5(head + authenticator + body + secret).digest() + body


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


def _pyrad_reply(
    request: Request, code: int, attributes: Iterable[ReplyAttribute], message_authenticator: bool
) -> bytes:
    """The fast path's fallback: the reply pyrad's CreateReply would start from, without decoding the
    request through pyrad."""
    frame = request.frame
    reply = rp.AuthPacket(
        code,
        frame.identifier,
        request.secret,
        frame.authenticator,
        dict=request.dictionary,
        message_authenticator=message_authenticator,
    )
    reply._request_code = frame.code
    proxy = frame.values.get(PROXY_STATE)
    if proxy:
        OrderedDict.__setitem__(reply, PROXY_STATE, list(proxy))
    return _fill(reply, request.dictionary, code, attributes)


def encode_reply_pyrad(
    packet: Packet, code: int, attributes: Iterable[ReplyAttribute], message_authenticator: bool
) -> bytes:
    """The reply through pyrad alone, to a request decoded by pyrad: the reference of the fast path."""
    reply = packet.CreateReply(message_authenticator=message_authenticator)
    return _fill(reply, packet.dict, code, attributes)


def _fill(reply: Packet, dictionary: Dictionary, code: int, attributes: Iterable[ReplyAttribute]) -> bytes:
    reply.code = code
    try:
        for name, value in attributes:
            reply.AddAttribute(name, _coerce(dictionary, name, value))
        raw: bytes = reply.ReplyPacket()
    except ReplyError:
        raise
    except Exception as exc:
        raise ReplyError(f"cannot encode reply: {exc}") from None
    if len(raw) > MAX_LENGTH:
        raise ReplyError(f"reply of {len(raw)} octets exceeds {MAX_LENGTH}")
    return raw
