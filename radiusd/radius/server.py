"""The asyncio RADIUS server: one datagram socket per address and port, both ports in one loop.

Per packet, synchronously in datagram_received: find the client, check framing and authenticators,
consult the duplicate cache. Only then is a task started for the engine (Access-Request) or the
store (Accounting-Request); Status-Server is answered at once. Nothing raised by one packet reaches
the loop: it is counted, logged and the server keeps serving everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pyrad.dictionary import Dictionary

from radiusd.engine.types import Authenticator, AuthRequest, Outcome
from radiusd.radius import codec, counters
from radiusd.radius.accounting import accounting_row
from radiusd.radius.checks import drop_reason
from radiusd.radius.clients import Client, ClientTable
from radiusd.radius.counters import Counters, DropLog
from radiusd.radius.duplicates import DuplicateCache, Key
from radiusd.radius.translate import access_reply, auth_request

log = logging.getLogger(__name__)

StoreAccounting = Callable[[dict[str, Any]], Awaitable[None]]
Address = tuple[Any, ...]

# Counter names made once, not formatted per packet.
_RECEIVED = {
    code: f"received_code_{code}"
    for code in (codec.ACCESS_REQUEST, codec.ACCOUNTING_REQUEST, codec.STATUS_SERVER)
}
_OUTCOME = {outcome: f"access_{outcome.value}" for outcome in Outcome}
READ_BURST = 64
"""Datagrams read from one socket per wake-up before the loop turns to other work."""
RECEIVE_SIZE = 8192
"""Larger than any RADIUS packet (4096): a longer datagram arrives cut and fails the length check."""


def bind_udp(host: str, port: int, reuse_port: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(frozen=True, slots=True)
class Bound:
    host: str
    port: int
    accounting: bool


class Listener:
    """One bound socket. When it is readable, every datagram waiting (up to READ_BURST) is read
    and dispatched in the same callback, so that the requests that arrived together reach the
    store together (one group commit) instead of one per turn of the event loop."""

    def __init__(self, server: RadiusServer, index: int, accounting: bool, sock: socket.socket) -> None:
        self.server, self.index, self.accounting, self.sock = server, index, accounting, sock
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        recvfrom, received = self.sock.recvfrom, self.server.received
        for _ in range(READ_BURST):
            try:
                data, addr = recvfrom(RECEIVE_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error reported on the socket: nothing to read
                log.debug("socket error: %s", exc)
                return
            received(self, data, addr)

    def send(self, data: bytes, addr: Address) -> None:
        if self.loop is None:
            return
        try:
            self.sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            # The send buffer is full: the client retransmits and gets the reply from the
            # duplicate cache, as after a datagram lost on the way.
            self.server.counters[counters.SEND_BUFFER_FULL] += 1
        except OSError as exc:
            log.debug("cannot send to %s: %s", addr[0], exc)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
            self.loop = None
        self.sock.close()


class RadiusServer:
    def __init__(
        self,
        authenticator: Authenticator,
        clients: ClientTable,
        dictionary: Dictionary,
        store_accounting: StoreAccounting,
        duplicate_seconds: float = 10.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.authenticator = authenticator
        self.clients = clients
        self.dictionary = dictionary
        self.store_accounting = store_accounting
        self.request_timeout = request_timeout
        self.duplicates = DuplicateCache(duplicate_seconds)
        self.counters = Counters()
        self.drops = DropLog(log)
        self.listeners: list[Listener] = []
        self.bound: list[Bound] = []
        self.inflight: set[asyncio.Task[None]] = set()
        self.accepting = True
        # One timer for all requests in flight rather than an asyncio.timeout (a timer scheduled and
        # cancelled) per request: deadlines come in the order the tasks start.
        self._deadlines: deque[tuple[float, asyncio.Task[None]]] = deque()
        self._timed_out: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, addresses: list[str], auth_port: int, acct_port: int, reuse_port: bool) -> None:
        loop = asyncio.get_running_loop()
        try:
            for host in addresses:
                for port, accounting in ((auth_port, False), (acct_port, True)):
                    sock = bind_udp(host, port, reuse_port)
                    listener = Listener(self, len(self.listeners), accounting, sock)
                    listener.start(loop)
                    self.listeners.append(listener)
                    self.bound.append(Bound(host, sock.getsockname()[1], accounting))
        except OSError:
            self.close()
            raise

    def reload(self, clients: ClientTable, authenticator: Authenticator) -> Authenticator:
        """Swap clients and engine between two packets; returns the engine replaced."""
        old, self.authenticator, self.clients = self.authenticator, authenticator, clients
        return old

    async def stop(self, grace: float) -> None:
        """Take no new packets, let the ones in flight finish (and answer), then close the sockets."""
        self.accepting = False
        if self.inflight:
            await asyncio.wait(set(self.inflight), timeout=grace)
        self.close()

    def close(self) -> None:
        for listener in self.listeners:
            listener.close()

    # -- per packet ----------------------------------------------------------------------------

    def received(self, listener: Listener, data: bytes, addr: Address) -> None:
        if not self.accepting:
            self.counters[counters.STOPPING] += 1
            return
        try:
            self._dispatch(listener, data, addr)
        except Exception:
            self.counters[counters.ERRORS] += 1
            log.exception("internal error on a packet from %s", addr[0])

    def _drop(self, reason: str, host: str, client: Client | None, detail: str = "") -> None:
        self.counters[reason] += 1
        self.drops.drop(reason, host, client.name if client else None, detail)

    def _dispatch(self, listener: Listener, data: bytes, addr: Address) -> None:
        host = addr[0]
        client = self.clients.lookup(host)
        if client is None:
            self._drop(counters.UNKNOWN_CLIENT, host, None)
            return
        try:
            frame = codec.parse_frame(data)
        except codec.MalformedPacket as exc:
            self._drop(counters.MALFORMED, host, client, str(exc))
            return
        reason = drop_reason(frame, client, listener.accounting)
        if reason is not None:
            self._drop(reason, host, client)
            return
        code = frame.code
        self.counters[_RECEIVED.get(code) or f"received_code_{code}"] += 1
        request = codec.Request(frame, client.secret, self.dictionary)
        if code == codec.STATUS_SERVER:
            # RFC 5997: not subject to duplicate detection; always signed.
            reply_code = codec.ACCOUNTING_RESPONSE if listener.accounting else codec.ACCESS_ACCEPT
            listener.send(codec.encode_reply(request, reply_code, (), True), addr)
            return
        key: Key = (host, addr[1], listener.index, code, frame.identifier)
        authenticator = frame.authenticator
        cached, new = self.duplicates.claim(key, authenticator)
        if not new:
            if cached is None:
                self.counters[counters.DUPLICATE_IN_PROGRESS] += 1
            else:
                self.counters[counters.DUPLICATE_RESENT] += 1
                listener.send(cached, addr)
            return
        try:
            if code == codec.ACCESS_REQUEST:
                work = self._authenticate(request, client, auth_request(request, client, host))
            else:
                packet = codec.decode(frame, client.secret, self.dictionary)
                work = self._account(request, packet, client.name, host)
        except codec.MalformedPacket as exc:
            self.duplicates.forget(key, authenticator)
            self._drop(counters.MALFORMED, host, client, str(exc))
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._answer(listener, addr, key, authenticator, work))
        self.inflight.add(task)  # _answer takes itself out when it ends
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].done():  # most answer in the order they came
            deadlines.popleft()
        deadline = loop.time() + self.request_timeout
        deadlines.append((deadline, task))
        if self._sweeper is None:
            self._sweeper = loop.call_at(deadline, self._sweep)

    def _sweep(self) -> None:
        """Cancel the tasks past their deadline; _answer counts them as timeouts."""
        self._sweeper = None
        deadlines = self._deadlines
        now = asyncio.get_running_loop().time()
        while deadlines:
            deadline, task = deadlines[0]
            if not task.done():
                if deadline > now:
                    self._sweeper = asyncio.get_running_loop().call_at(deadline, self._sweep)
                    return
                self._timed_out.add(task)
                task.cancel()
            deadlines.popleft()

    async def _answer(
        self, listener: Listener, addr: Address, key: Key, authenticator: bytes, work: Awaitable[bytes]
    ) -> None:
        task = asyncio.current_task()
        try:
            reply = await work
        except asyncio.CancelledError:
            if task not in self._timed_out:
                raise
            self.duplicates.forget(key, authenticator)
            self.counters[counters.TIMEOUTS] += 1
            log.error("no answer within %.0f s for a request from %s", self.request_timeout, addr[0])
        except Exception:
            # No answer: the client retries or fails over, as with a server that is down.
            self.duplicates.forget(key, authenticator)
            self.counters[counters.ERRORS] += 1
            log.exception("internal error answering a request from %s", addr[0])
        else:
            self.duplicates.answer(key, authenticator, reply)
            listener.send(reply, addr)
        finally:
            # Here rather than in a done callback, which would cost one more loop callback per request.
            self.inflight.discard(task)  # type: ignore[arg-type]
            self._timed_out.discard(task)  # type: ignore[arg-type]

    async def _authenticate(self, request: codec.Request, client: Client, auth: AuthRequest) -> bytes:
        decision = await self.authenticator.authenticate(auth)
        self.counters[_OUTCOME[decision.outcome]] += 1
        return access_reply(request, client, decision)

    async def _account(self, request: codec.Request, packet: codec.Packet, client: str, host: str) -> bytes:
        await self.store_accounting(accounting_row(packet, client, host))
        self.counters["accounting_stored"] += 1
        return codec.encode_reply(request, codec.ACCOUNTING_RESPONSE, (), False)
