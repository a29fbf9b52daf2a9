"""Workload (d): a two-step email challenge, driven in Python against a local SMTP sink (aiosmtpd).

Per login: Access-Request with the password alone → Access-Challenge with a State, and radiusd
sends a fresh code by SMTP to the sink → the driver reads the code from the message → a second
Access-Request with the State and the code → Access-Accept. The latency is the whole login.
"""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
import time
from typing import Any

from aiosmtpd.controller import Controller

from bench.packets import STATE, access_request, source_address
from bench.population import PASSWORD, SECRET, email_address, email_user

CODE = re.compile(r"\bis (\d{4,12})\b")


def _free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """An SMTP server that hands each received code to whoever waits for that address."""

    def __init__(self) -> None:
        self.port = _free_tcp_port()
        self.received = 0
        self._lock = threading.Lock()
        self._codes: dict[str, str] = {}
        self._waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[str]]] = {}
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        texts = []
        for part in message.walk():
            if part.get_content_maintype() == "text":
                payload = part.get_payload(decode=True)
                texts.append(
                    payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
                )
        found = CODE.search(" ".join(texts))
        if found:
            for rcpt in envelope.rcpt_tos:
                self._deliver(rcpt.lower(), found.group(1))
        return "250 OK"

    def _deliver(self, address: str, code: str) -> None:
        with self._lock:
            self.received += 1
            waiter = self._waiters.pop(address, None)
            if waiter is None:
                self._codes[address] = code
                return
        loop, future = waiter
        loop.call_soon_threadsafe(lambda: future.done() or future.set_result(code))

    async def code_for(self, address: str, timeout: float) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        with self._lock:
            if address in self._codes:
                return self._codes.pop(address)
            self._waiters[address] = (loop, future)
        return await asyncio.wait_for(future, timeout)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[bytes]] = {}

    def datagram_received(self, data: bytes, _addr: Any) -> None:
        future = self.waiting.pop(data[1], None) if len(data) >= 20 else None
        if future is not None and not future.done():
            future.set_result(data)


def _attribute(reply: bytes, kind: int) -> bytes | None:
    pos = 20
    while pos + 2 <= len(reply):
        t, size = reply[pos], reply[pos + 1]
        if size < 2:
            return None
        if t == kind:
            return reply[pos + 2 : pos + size]
        pos += size
    return None


async def _drive(
    sink: Sink, port: int, users: list[int], sources: list[int], concurrency: int, duration: float
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    outcome = {"accept": 0, "reject": 0, "no_challenge": 0, "no_code": 0, "lost": 0}
    queue = list(zip(users, sources, strict=True))
    queue.reverse()
    deadline = time.monotonic() + duration
    secret = SECRET.encode()

    async def ask(proto: _Udp, transport: Any, ident: int, raw: bytes) -> bytes | None:
        future: asyncio.Future[bytes] = loop.create_future()
        proto.waiting[ident] = future
        transport.sendto(raw)
        try:
            return await asyncio.wait_for(future, 10.0)
        except TimeoutError:
            proto.waiting.pop(ident, None)
            return None

    async def worker() -> None:
        transport, proto = await loop.create_datagram_endpoint(_Udp, remote_addr=("127.0.0.1", port))
        ident = 0
        try:
            while queue and time.monotonic() < deadline:
                user, source = queue.pop()
                name, src = email_user(user), source_address(source)
                started = time.perf_counter()
                ident = (ident + 1) & 255
                reply = await ask(proto, transport, ident, access_request(ident, secret, name, PASSWORD, src))
                if reply is None:
                    outcome["lost"] += 1
                    continue
                state = _attribute(reply, STATE)
                if reply[0] != 11 or state is None:
                    outcome["no_challenge"] += 1
                    continue
                try:
                    code = await sink.code_for(email_address(user), 10.0)
                except TimeoutError:
                    outcome["no_code"] += 1
                    continue
                ident = (ident + 1) & 255
                raw = access_request(ident, secret, name, code, src, state=state)
                reply = await ask(proto, transport, ident, raw)
                if reply is None:
                    outcome["lost"] += 1
                    continue
                if reply[0] == 2:
                    outcome["accept"] += 1
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    outcome["reject"] += 1
        finally:
            transport.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[int(p * (len(latencies) - 1) + 0.5)], 3) if latencies else -1.0

    return {
        "logins": len(latencies),
        "elapsed": round(elapsed, 4),
        "logins_per_s": round(len(latencies) / elapsed, 1),
        "rps": round(2 * len(latencies) / elapsed, 1),
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "concurrency": concurrency,
        **outcome,
    }


def run(
    sink: Sink, port: int, users: list[int], sources: list[int], concurrency: int, duration: float
) -> dict[str, Any]:
    return asyncio.run(_drive(sink, port, users, sources, concurrency, duration))
