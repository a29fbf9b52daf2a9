"""A small blocking RADIUS client for the helper: one login at a time, so no event loop is needed.

Every Access-Request carries a Message-Authenticator, and every reply must carry a valid one
(BlastRADIUS, CVE-2024-3596); a reply that fails any check is ignored as if it never came.
Servers are asked in order; a server that does not answer within its timeout (after its retries)
hands over to the next one. The server that answered last is asked first for the next round, so
the answer to a challenge goes back to the node that issued it while it is up.
"""

from __future__ import annotations

import enum
import logging
import socket
import time
from dataclasses import dataclass, field

from pyrad.dictionary import Dictionary
from pyrad.packet import AccessAccept, AccessChallenge, AccessReject, AccessRequest, AuthPacket, Packet

from radiusd.pamclient.settings import ServerConfig

log = logging.getLogger(__name__)

NAS_PORT_TYPE_VIRTUAL = 5
SERVICE_TYPE_AUTHENTICATE_ONLY = 8


class Verdict(enum.Enum):
    ACCEPT = AccessAccept
    REJECT = AccessReject
    CHALLENGE = AccessChallenge


@dataclass(frozen=True)
class Reply:
    verdict: Verdict
    messages: tuple[str, ...] = ()
    state: bytes | None = None
    echo: bool = False
    """The server's Prompt attribute: show what the user types (RFC 2869 5.10)."""
    server: str = ""


class NoServerAnswered(Exception):
    """Every server timed out or sent only replies that failed verification."""


@dataclass(frozen=True)
class LoginContext:
    """What every request of one login carries besides the secret."""

    user: str
    nas_identifier: str
    calling_station: str | None = None


@dataclass
class RadiusClient:
    servers: list[ServerConfig]
    dictionary: Dictionary
    preferred: int = field(default=0)

    def authenticate(self, login: LoginContext, secret: str, state: bytes | None = None) -> Reply:
        """Send one Access-Request (with State when answering a challenge) and return the reply."""
        order = self.servers[self.preferred :] + self.servers[: self.preferred]
        for offset, server in enumerate(order):
            reply = self._ask(server, login, secret, state)
            if reply is not None:
                self.preferred = (self.preferred + offset) % len(self.servers)
                return reply
        raise NoServerAnswered()

    def _request(self, server: ServerConfig, login: LoginContext, secret: str, state: bytes | None) -> Packet:
        packet = AuthPacket(
            code=AccessRequest,
            secret=server.secret.encode(),
            dict=self.dictionary,
            message_authenticator=True,
        )
        packet["User-Name"] = login.user
        packet["User-Password"] = packet.PwCrypt(secret.encode())
        packet["NAS-Identifier"] = login.nas_identifier
        packet["NAS-Port-Type"] = NAS_PORT_TYPE_VIRTUAL
        packet["Service-Type"] = SERVICE_TYPE_AUTHENTICATE_ONLY
        if login.calling_station:
            packet["Calling-Station-Id"] = login.calling_station
        if state is not None:
            packet["State"] = state
        return packet

    def _ask(
        self, server: ServerConfig, login: LoginContext, secret: str, state: bytes | None
    ) -> Reply | None:
        name = f"{server.address}:{server.port}"
        try:
            infos = socket.getaddrinfo(server.address, server.port, type=socket.SOCK_DGRAM)
        except OSError as exc:
            log.warning("RADIUS server %s: cannot resolve: %s", name, exc.strerror)
            return None
        family, _, _, _, address = infos[0]
        request = self._request(server, login, secret, state)
        raw = request.RequestPacket()  # retransmissions are byte-identical (RFC 5080)
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(address)  # only datagrams from this server arrive
            except OSError as exc:
                log.warning("RADIUS server %s: %s", name, exc.strerror)
                return None
            for _attempt in range(server.retries + 1):
                try:
                    sock.send(raw)
                except OSError as exc:
                    log.warning("RADIUS server %s: %s", name, exc.strerror)
                    return None
                reply = self._await_reply(sock, request, server.timeout, name)
                if reply is not None:
                    return reply
        log.warning("RADIUS server %s did not answer", name)
        return None

    def _await_reply(self, sock: socket.socket, request: Packet, timeout: float, name: str) -> Reply | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except TimeoutError:
                return None
            except OSError as exc:  # ICMP port unreachable: nobody listens there
                log.warning("RADIUS server %s: %s", name, exc.strerror)
                return None
            reply = self._verified(request, data, name)
            if reply is not None:
                return reply
        return None

    def _verified(self, request: Packet, data: bytes, name: str) -> Reply | None:
        try:
            packet = Packet(packet=data, dict=self.dictionary, secret=request.secret)
        except Exception:
            log.warning("RADIUS server %s: malformed reply ignored", name)
            return None
        if packet.id != request.id:
            return None  # a late answer to an earlier retransmission round
        if not request.VerifyReply(packet, data, enforce_ma=True):
            log.warning("RADIUS server %s: reply failed verification (wrong secret?); ignored", name)
            return None
        try:
            verdict = Verdict(packet.code)
        except ValueError:
            log.warning("RADIUS server %s: unexpected reply code %s ignored", name, packet.code)
            return None
        messages = tuple(_text(v) for v in packet.get("Reply-Message", []))
        states = packet.get("State", [])
        prompt = packet.get("Prompt", [])
        return Reply(
            verdict=verdict,
            messages=messages,
            state=bytes(states[0]) if states else None,
            echo=bool(prompt) and prompt[0] in (1, "Echo"),
            server=name,
        )


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
