"""LDAP messages (RFC 4511) from bytes and back, with no sockets: the bind proxy's codec.

ldap3's ASN.1 definitions serve for everything but the search filter: its recursive Filter is
built before And/Or/Not get their component type, so compound filters (&, |, !) do not decode.
Here the filter is rebuilt to a fixed nesting depth (as pyasn1-modules' RFC 2251 does), which
also bounds how deep a hostile client can make the decoder recurse. Six levels of &, | and ! cover
the filters Jira and Confluence compose (about three deep); pyasn1's type checks grow steeply with
the depth at import time (0.05 s at 5, 0.25 s at 6, 5 s at 8), so it stays small.
"""

from __future__ import annotations

from dataclasses import dataclass

from ldap3.protocol import rfc4511
from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import constraint, namedtype, tag, univ

MAX_FILTER_DEPTH = 6
MAX_MESSAGE_SIZE = 4 * 1024 * 1024
START_TLS_OID = "1.3.6.1.4.1.1466.20037"

# Result codes the proxy answers itself.
SUCCESS = 0
PROTOCOL_ERROR = 2
INAPPROPRIATE_AUTHENTICATION = 48
INVALID_CREDENTIALS = 49
INSUFFICIENT_ACCESS_RIGHTS = 50
UNAVAILABLE = 52
UNWILLING_TO_PERFORM = 53


class CodecError(Exception):
    """Bytes that are not a well-formed LDAP message: the connection is closed."""


def _filter(depth: int) -> univ.Choice:
    leaves = [
        nt for nt in rfc4511.Filter.componentType.namedTypes if nt.name not in ("and", "or", "notFilter")
    ]
    if depth == 0:
        return univ.Choice(componentType=namedtype.NamedTypes(*leaves))
    inner = _filter(depth - 1)
    size = constraint.ValueSizeConstraint(1, rfc4511.MAXINT)
    compound = [
        namedtype.NamedType(
            "and",
            univ.SetOf(componentType=inner).subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 0), subtypeSpec=size
            ),
        ),
        namedtype.NamedType(
            "or",
            univ.SetOf(componentType=inner).subtype(
                implicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 1), subtypeSpec=size
            ),
        ),
        namedtype.NamedType(
            "notFilter",
            univ.Choice(
                componentType=namedtype.NamedTypes(namedtype.NamedType("innerNotFilter", inner))
            ).subtype(explicitTag=tag.Tag(tag.tagClassContext, tag.tagFormatConstructed, 2)),
        ),
    ]
    return univ.Choice(componentType=namedtype.NamedTypes(*compound, *leaves))


def _replace(named: namedtype.NamedTypes, name: str, spec: object) -> namedtype.NamedTypes:
    return namedtype.NamedTypes(
        *(
            (
                namedtype.OptionalNamedType(nt.name, spec)
                if nt.isOptional
                else namedtype.NamedType(nt.name, spec)
            )
            if nt.name == name
            else nt
            for nt in named.namedTypes
        )
    )


class SearchRequest(rfc4511.SearchRequest):
    componentType = _replace(rfc4511.SearchRequest.componentType, "filter", _filter(MAX_FILTER_DEPTH))


class ProtocolOp(rfc4511.ProtocolOp):
    componentType = _replace(rfc4511.ProtocolOp.componentType, "searchRequest", SearchRequest())


class LDAPMessage(rfc4511.LDAPMessage):
    componentType = _replace(rfc4511.LDAPMessage.componentType, "protocolOp", ProtocolOp())


def frame_length(buffer: bytes | bytearray) -> int | None:
    """Length of the first whole BER message in `buffer`, or None while it is still incomplete."""
    if len(buffer) < 2:
        return None
    if buffer[0] != 0x30:  # LDAPMessage is a SEQUENCE
        raise CodecError("not an LDAP message")
    first = buffer[1]
    if first < 0x80:
        header, size = 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4:  # indefinite lengths are not allowed in LDAP (RFC 4511 5.1)
            raise CodecError("bad BER length")
        if len(buffer) < 2 + count:
            return None
        header, size = 2 + count, int.from_bytes(buffer[2 : 2 + count], "big")
    if header + size > MAX_MESSAGE_SIZE:
        raise CodecError("message too large")
    return header + size if len(buffer) >= header + size else None


@dataclass(frozen=True, slots=True)
class Request:
    """What the proxy needs to know about a client's message; `raw` is forwarded unchanged."""

    message_id: int
    operation: str
    """The protocolOp choice name: bindRequest, searchRequest, addRequest, extendedReq …"""
    raw: bytes
    message: univ.Sequence

    @property
    def op(self) -> univ.Asn1Item:
        return self.message["protocolOp"].getComponent()


def decode(raw: bytes) -> Request:
    try:
        message, rest = decoder.decode(raw, asn1Spec=LDAPMessage())
    except (PyAsn1Error, RecursionError) as exc:
        raise CodecError(f"undecodable message: {exc.__class__.__name__}") from None
    if rest:
        raise CodecError("trailing bytes after the message")
    return Request(int(message["messageID"]), message["protocolOp"].getName(), raw, message)


@dataclass(frozen=True, slots=True)
class SimpleBind:
    version: int
    dn: str
    password: str | None
    """None for SASL (not supported by the proxy)."""


def simple_bind(request: Request) -> SimpleBind:
    op = request.op
    auth = op["authentication"]
    name = auth.getName()
    password = bytes(auth.getComponent()).decode("utf-8", "replace") if name == "simple" else None
    return SimpleBind(int(op["version"]), bytes(op["name"]).decode("utf-8", "replace"), password)


def extended_name(request: Request) -> str:
    return bytes(request.op["requestName"]).decode("ascii", "replace")


def _result_fields(op: univ.Sequence, code: int, message: str) -> None:
    op["resultCode"] = code
    op["matchedDN"] = ""
    op["diagnosticMessage"] = message


# The response each refused or answered request gets: request name → (response name, response class).
RESPONSES: dict[str, tuple[str, type[univ.Sequence]]] = {
    "bindRequest": ("bindResponse", rfc4511.BindResponse),
    "searchRequest": ("searchResDone", rfc4511.SearchResultDone),
    "modifyRequest": ("modifyResponse", rfc4511.ModifyResponse),
    "addRequest": ("addResponse", rfc4511.AddResponse),
    "delRequest": ("delResponse", rfc4511.DelResponse),
    "modDNRequest": ("modDNResponse", rfc4511.ModifyDNResponse),
    "compareRequest": ("compareResponse", rfc4511.CompareResponse),
    "extendedReq": ("extendedResp", rfc4511.ExtendedResponse),
}


def response(message_id: int, request_operation: str, code: int, message: str = "") -> bytes:
    """The answer to a request of kind `request_operation` with one result code."""
    name, cls = RESPONSES[request_operation]
    op = cls()
    _result_fields(op, code, message)
    envelope = rfc4511.LDAPMessage()
    envelope["messageID"] = message_id
    envelope["protocolOp"][name] = op
    return bytes(encoder.encode(envelope))


def notice_of_disconnection(code: int, message: str) -> bytes:
    """Unsolicited notification (RFC 4511 4.4.1): message id 0, then the server closes."""
    op = rfc4511.ExtendedResponse()
    _result_fields(op, code, message)
    op["responseName"] = "1.3.6.1.4.1.1466.20036"
    envelope = rfc4511.LDAPMessage()
    envelope["messageID"] = 0
    envelope["protocolOp"]["extendedResp"] = op
    return bytes(encoder.encode(envelope))


def start_tls_request(message_id: int) -> bytes:
    op = rfc4511.ExtendedRequest()
    op["requestName"] = START_TLS_OID
    envelope = rfc4511.LDAPMessage()
    envelope["messageID"] = message_id
    envelope["protocolOp"]["extendedReq"] = op
    return bytes(encoder.encode(envelope))


def result_code(message: Request) -> int:
    """The resultCode of a response (LDAPResult-shaped protocolOp)."""
    return int(message.op["resultCode"])
