"""Packets to the engine's AuthRequest, and the engine's Decision back to a reply. No policy here."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import socket
from collections.abc import Sequence

from radiusd.engine.types import AuthRequest, Decision, Outcome, ReplyAttribute
from radiusd.radius import codec
from radiusd.radius.clients import Client

log = logging.getLogger(__name__)

FRONTDOOR = "radius"
MAX_MESSAGE = 80
"""Reply-Message length: pam_radius_auth shows at most this much of a prompt on one line."""
MAX_ATTRIBUTE = 253
"""Octets in one attribute's value (RFC 2865 section 5)."""
DEFAULT_PROMPT = "Enter your one-time code"

# Request attributes handed to the engine for its audit and rules (never a secret).
CONTEXT_ATTRIBUTES = {
    4: "NAS-IP-Address",
    30: "Called-Station-Id",
    31: "Calling-Station-Id",
    32: "NAS-Identifier",
    61: "NAS-Port-Type",
}


def split_static_challenge(password: str) -> tuple[str, str | None]:
    """OpenVPN static challenge: `SCRV1:base64(password):base64(response)` → (password, code)."""
    if not password.startswith("SCRV1:"):
        return password, None
    parts = password.split(":")
    if len(parts) != 3:
        return password, None
    try:
        secret = base64.b64decode(parts[1], validate=True).decode()
        code = base64.b64decode(parts[2], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return password, None
    return secret, code


def _context_value(code: int, raw: bytes) -> str:
    if code == 4 and len(raw) == 4:
        return str(ipaddress.IPv4Address(raw))
    if code == 61 and len(raw) == 4:
        return str(int.from_bytes(raw, "big"))
    return raw.decode("utf-8", "replace")[:253]


def _source(values: dict[int, list[bytes]], client: Client, peer: str) -> str | None:
    """The packet's source, or the client's trusted attribute. A client configured with an attribute
    that is missing or not an address gets None: a rule must not match on the NAS's own address."""
    if client.source_attribute is None:
        return peer
    if client.source_attribute == "Framed-IP-Address":
        raw = values.get(codec.FRAMED_IP_ADDRESS)
        return str(ipaddress.IPv4Address(raw[0])) if raw and len(raw[0]) == 4 else None
    found = values.get(codec.CALLING_STATION_ID)
    if not found:
        return None
    text = found[0].decode("utf-8", "replace").strip()
    try:  # an IPv4 address already in canonical form is its own text (5 times faster than ipaddress)
        if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text)) == text:
            return text
    except (OSError, ValueError):  # not an address, or a NUL or non-ASCII character in it
        pass
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def auth_request(request: codec.Request, client: Client, peer: str) -> AuthRequest:
    """Raises codec.MalformedPacket for a User-Password that cannot be a PAP password."""
    values = request.frame.values
    password = codec.user_password(request) or ""
    password, code = split_static_challenge(password)
    states = values.get(codec.STATE)
    user = values.get(codec.USER_NAME)
    attributes = {
        name: _context_value(number, found[0])
        for number, name in CONTEXT_ATTRIBUTES.items()
        if (found := values.get(number))
    }
    return AuthRequest(
        user=user[0].decode("utf-8", "replace")[:253] if user else "",
        secret=password,
        frontdoor=FRONTDOOR,
        client=client.name,
        source=_source(values, client, peer),
        state=states[0] if states else None,
        code=code,
        attributes=attributes,
    )


def printable(text: str, limit: int = MAX_MESSAGE) -> str:
    """One line of printable text, as pam_radius_auth and most VPN clients can show it."""
    line = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return line[:limit]


def message_chunks(text: str, limit: int = MAX_ATTRIBUTE) -> list[str]:
    """A further line (an enrolment's otpauth URI) as Reply-Messages of at most `limit` octets,
    cut only between characters; the PAM helper joins a full-length one to the next."""
    line = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    chunks: list[str] = []
    while line:
        cut = len(line.encode()[:limit].decode("utf-8", "ignore"))
        chunks.append(line[:cut])
        line = line[cut:]
    return chunks


def reply_code_and_attributes(decision: Decision) -> tuple[int, Sequence[ReplyAttribute]]:
    if decision.outcome is Outcome.ACCEPT:
        return codec.ACCESS_ACCEPT, decision.reply
    if decision.outcome is Outcome.CHALLENGE:
        if not decision.state or len(decision.state) > 253:
            raise codec.ReplyError("a challenge needs a State of 1 to 253 octets")
        # One State and the prompt as the first Reply-Message: pam_radius_auth 2.0.0 needs both and
        # shows only that one. Further lines (an enrolment's URI) follow as further Reply-Messages.
        prompt = printable(decision.message) or DEFAULT_PROMPT
        more = [("Reply-Message", chunk) for line in decision.lines for chunk in message_chunks(line)]
        return codec.ACCESS_CHALLENGE, [("State", decision.state), ("Reply-Message", prompt), *more]
    message = printable(decision.message)
    return codec.ACCESS_REJECT, [("Reply-Message", message)] if message else []


def access_reply(request: codec.Request | codec.Packet, client: Client, decision: Decision) -> bytes:
    """The encoded reply. An accept whose attributes cannot be encoded becomes a reject: a VPN must
    not grant a session without the Filter-Id or group the policy asked for."""
    sign = client.reply_message_authenticator
    try:
        code, attributes = reply_code_and_attributes(decision)
        return codec.encode_reply(request, code, attributes, sign)
    except codec.ReplyError as exc:
        log.error(
            "cannot answer %s for client %r as decided (%s): sending Access-Reject",
            decision.outcome.value,
            client.name,
            exc,
        )
        return codec.encode_reply(request, codec.ACCESS_REJECT, (), sign)
