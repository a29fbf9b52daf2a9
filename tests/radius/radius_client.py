"""A small RADIUS client for tests, built on the same pyrad dictionary the server loads."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from pyrad import packet as rp

from radiusd.radius.dictionary import SHIPPED, load_dictionary

DICTIONARY = load_dictionary(SHIPPED)


def access_request(
    secret: str,
    user: str,
    password: str | None = None,
    *,
    state: bytes | None = None,
    message_authenticator: bool = True,
    proxy_states: Iterable[bytes] = (),
    attributes: Iterable[tuple[str, object]] = (),
) -> rp.AuthPacket:
    pkt = rp.AuthPacket(rp.AccessRequest, secret=secret.encode(), dict=DICTIONARY)
    pkt["User-Name"] = user
    if password is not None:
        pkt["User-Password"] = pkt.PwCrypt(password)
    if state is not None:
        pkt["State"] = state
    for name, value in attributes:
        pkt.AddAttribute(name, value)
    for proxy_state in proxy_states:
        pkt.AddAttribute("Proxy-State", proxy_state)
    if message_authenticator:
        pkt.add_message_authenticator()
    return pkt


def status_server(secret: str) -> rp.Packet:
    pkt = rp.AuthPacket(rp.StatusServer, secret=secret.encode(), dict=DICTIONARY)
    pkt.add_message_authenticator()
    return pkt


def accounting_request(secret: str, **attributes: object) -> rp.AcctPacket:
    pkt = rp.AcctPacket(rp.AccountingRequest, secret=secret.encode(), dict=DICTIONARY)
    for name, value in attributes.items():
        pkt.AddAttribute(name.replace("_", "-"), value)
    return pkt


def encode(pkt: rp.Packet) -> bytes:
    return bytes(pkt.RequestPacket())


def exchange(
    host: str, port: int, raw: bytes, timeout: float = 2.0, sock: socket.socket | None = None
) -> bytes | None:
    """Send raw bytes and return the first datagram back, or None after timeout."""
    own = sock is None
    if sock is None:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.settimeout(timeout)
        sock.sendto(raw, (host, port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None
    finally:
        if own:
            sock.close()


def ask(host: str, port: int, pkt: rp.Packet, timeout: float = 2.0) -> rp.Packet | None:
    """Send a request and return its verified reply (Message-Authenticator required), or None."""
    raw = exchange(host, port, encode(pkt), timeout)
    if raw is None:
        return None
    reply = pkt.CreateReply(packet=raw)
    if not pkt.VerifyReply(reply, raw, enforce_ma=pkt.code in (rp.AccessRequest, rp.StatusServer)):
        raise AssertionError("reply does not verify")
    return reply
