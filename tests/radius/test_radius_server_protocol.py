"""Protocol behaviour of the server in this process, with a scripted authenticator in place of the
engine: duplicates, challenge and State, reply attributes, BlastRADIUS drops, Status-Server."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from helpers import free_port
from pyrad import packet as rp
from radius.radius_client import (
    DICTIONARY,
    access_request,
    accounting_request,
    encode,
    exchange,
    status_server,
)

from radiusd.engine.types import AuthRequest, Decision
from radiusd.radius import codec, counters
from radiusd.radius.clients import Client, ClientTable
from radiusd.radius.server import RadiusServer

SECRET = "protocol-secret"
HOST = "127.0.0.1"


class Scripted:
    """Answers with a function of the request, after an optional delay; records every call."""

    def __init__(self, answer: Callable[[AuthRequest], Decision], delay: float = 0.0) -> None:
        self.answer, self.delay = answer, delay
        self.calls: list[AuthRequest] = []

    async def authenticate(self, request: AuthRequest) -> Decision:
        self.calls.append(request)
        await asyncio.sleep(self.delay)
        return self.answer(request)


def run(
    authenticator: Scripted,
    scenario: Callable[[RadiusServer, int, int], Awaitable[None]],
    **client_options: Any,
) -> RadiusServer:
    client = Client("nas", ipaddress.ip_network("127.0.0.1/32"), SECRET.encode(), **client_options)
    stored: list[dict[str, Any]] = []

    async def store(row: dict[str, Any]) -> None:
        stored.append(row)

    async def main() -> RadiusServer:
        server = RadiusServer(authenticator, ClientTable([client]), DICTIONARY, store, 5.0, 5.0)
        server.stored = stored  # type: ignore[attr-defined]
        await server.start([HOST], free_port(), free_port(), reuse_port=False)
        try:
            await scenario(server, server.bound[0].port, server.bound[1].port)
        finally:
            await server.stop(5.0)
        return server

    return asyncio.run(main())


async def send(port: int, raw: bytes, timeout: float = 2.0) -> bytes | None:
    return await asyncio.to_thread(exchange, HOST, port, raw, timeout)


def test_duplicates_in_progress_are_dropped_and_answered_ones_resent_byte_identical() -> None:
    slow = Scripted(lambda r: Decision.accept(reply=(("Class", b"c1"),)), delay=0.5)
    raw = encode(access_request(SECRET, "alice", "pw,123456"))
    replies: list[bytes | None] = []

    async def scenario(server: RadiusServer, auth: int, _acct: int) -> None:
        import socket

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((HOST, 0))
        try:
            first = asyncio.to_thread(exchange, HOST, auth, raw, 3.0, sock)
            task = asyncio.ensure_future(first)
            await asyncio.sleep(0.1)
            sock.sendto(raw, (HOST, auth))  # retransmission while the engine still works
            replies.append(await task)
            replies.append(await asyncio.to_thread(exchange, HOST, auth, raw, 2.0, sock))
            # A new authenticator with the same identifier from the same port is a new request.
            fresh = access_request(SECRET, "alice", "pw,654321")
            fresh.id = rp.AuthPacket(packet=raw, dict=DICTIONARY).id
            replies.append(await asyncio.to_thread(exchange, HOST, auth, encode(fresh), 3.0, sock))
        finally:
            sock.close()

    server = run(slow, scenario)
    assert replies[0] is not None and replies[0][0] == codec.ACCESS_ACCEPT
    assert replies[1] == replies[0]
    assert replies[2] is not None and replies[2] != replies[0]
    assert [c.secret for c in slow.calls] == ["pw,123456", "pw,654321"]
    assert server.counters[counters.DUPLICATE_IN_PROGRESS] == 1
    assert server.counters[counters.DUPLICATE_RESENT] == 1


def test_challenge_state_round_trip_and_reply_attributes() -> None:
    attributes = (
        ("Class", b"group=vpn"),
        ("Filter-Id", "vpn-users"),
        ("Session-Timeout", 3600),
        ("Framed-IP-Address", "10.8.0.5"),
        ("Fortinet-Group-Name", "fw-admins"),
        ("Cisco-AVPair", "ip:inacl#1=permit ip any any"),
        ("Cisco-AVPair", "shell:priv-lvl=15"),
        ("PaloAlto-User-Group", "gp-users"),
    )

    def answer(r: AuthRequest) -> Decision:
        if r.state == b"st-42" and r.secret == "123456":
            return Decision.accept(reply=attributes)
        if r.state is None and r.secret == "pw":
            return Decision.challenge("Enter your one-time code", b"st-42")
        return Decision.reject("wrong")

    engine = Scripted(answer)
    got: dict[str, rp.Packet] = {}

    async def scenario(_server: RadiusServer, auth: int, _acct: int) -> None:
        first = access_request(SECRET, "alice", "pw")
        got["challenge"] = first.CreateReply(packet=await send(auth, encode(first)))
        state = got["challenge"]["State"][0]
        second = access_request(SECRET, "alice", "123456", state=state)
        got["accept"] = second.CreateReply(packet=await send(auth, encode(second)))

    run(engine, scenario)
    challenge, accept = got["challenge"], got["accept"]
    assert challenge.code == codec.ACCESS_CHALLENGE
    assert challenge["State"] == [b"st-42"] and challenge["Reply-Message"] == ["Enter your one-time code"]
    assert accept.code == codec.ACCESS_ACCEPT
    for name, value in attributes:
        assert value in accept[name]
    assert accept["Cisco-AVPair"] == ["ip:inacl#1=permit ip any any", "shell:priv-lvl=15"]
    assert engine.calls[1].state == b"st-42"


def test_blastradius_drops_are_counted() -> None:
    engine = Scripted(lambda r: Decision.accept())
    answers: dict[str, bytes | None] = {}

    async def scenario(server: RadiusServer, auth: int, _acct: int) -> None:
        unsigned = access_request(SECRET, "alice", "pw", message_authenticator=False)
        answers["unsigned"] = await send(auth, encode(unsigned), 0.5)
        wrong = access_request("not-the-secret", "alice", "pw")
        answers["wrong secret"] = await send(auth, encode(wrong), 0.5)
        answers["signed"] = await send(auth, encode(access_request(SECRET, "alice", "pw")))

    server = run(engine, scenario)
    assert answers["unsigned"] is None and answers["wrong secret"] is None
    assert answers["signed"] is not None and answers["signed"][0] == codec.ACCESS_ACCEPT
    assert server.counters[counters.MISSING_MESSAGE_AUTHENTICATOR] == 1
    assert server.counters[counters.BAD_AUTHENTICATOR] == 1
    assert len(engine.calls) == 1


def test_limit_proxy_state_without_required_message_authenticator() -> None:
    engine = Scripted(lambda r: Decision.reject("no"))
    answers: dict[str, bytes | None] = {}

    async def scenario(server: RadiusServer, auth: int, _acct: int) -> None:
        plain = access_request(SECRET, "alice", "pw", message_authenticator=False)
        answers["plain"] = await send(auth, encode(plain))
        proxied = access_request(SECRET, "alice", "pw", message_authenticator=False, proxy_states=[b"p"])
        answers["proxied"] = await send(auth, encode(proxied), 0.5)

    server = run(
        engine,
        scenario,
        require_message_authenticator=False,
        limit_proxy_state=True,
        reply_message_authenticator=False,
    )
    assert answers["plain"] is not None and answers["plain"][0] == codec.ACCESS_REJECT
    assert codec.parse_frame(answers["plain"]).ma_offset == -1  # reply_message_authenticator: no
    assert answers["proxied"] is None
    assert server.counters[counters.PROXY_STATE_UNSIGNED] == 1


def test_status_server_on_both_ports_and_accounting_stored_before_the_answer() -> None:
    engine = Scripted(lambda r: Decision.reject("unused"))
    answers: dict[str, bytes | None] = {}

    async def scenario(server: RadiusServer, auth: int, acct: int) -> None:
        answers["auth"] = await send(auth, encode(status_server(SECRET)))
        answers["acct"] = await send(acct, encode(status_server(SECRET)))
        request = accounting_request(SECRET, User_Name="bob", Acct_Status_Type="Start", Acct_Session_Id="s1")
        answers["accounting"] = await send(acct, encode(request))
        assert server.stored[-1]["session_id"] == "s1"  # type: ignore[attr-defined]
        answers["access on acct port"] = await send(acct, encode(access_request(SECRET, "a", "b")), 0.5)

    server = run(engine, scenario)
    assert answers["auth"] is not None and answers["auth"][0] == codec.ACCESS_ACCEPT
    assert answers["acct"] is not None and answers["acct"][0] == codec.ACCOUNTING_RESPONSE
    assert codec.parse_frame(answers["acct"]).ma_offset == 22
    assert answers["accounting"] is not None and answers["accounting"][0] == codec.ACCOUNTING_RESPONSE
    assert answers["access on acct port"] is None
    row = server.stored[0]  # type: ignore[attr-defined]
    assert (row["user"], row["status_type"], row["client"]) == ("bob", "Start", "nas")
    assert server.counters[counters.UNEXPECTED_CODE] == 1


def test_an_engine_failure_answers_nothing_and_the_server_keeps_serving() -> None:
    def answer(r: AuthRequest) -> Decision:
        if r.user == "boom":
            raise RuntimeError("backend down")
        return Decision.accept()

    answers: dict[str, bytes | None] = {}

    async def scenario(server: RadiusServer, auth: int, _acct: int) -> None:
        answers["boom"] = await send(auth, encode(access_request(SECRET, "boom", "pw")), 0.5)
        answers["ok"] = await send(auth, encode(access_request(SECRET, "alice", "pw")))

    server = run(Scripted(answer), scenario)
    assert answers["boom"] is None
    assert answers["ok"] is not None and answers["ok"][0] == codec.ACCESS_ACCEPT
    assert server.counters[counters.ERRORS] == 1


def test_a_request_past_its_deadline_is_dropped_and_its_retransmission_processed_afresh() -> None:
    class SlowForBob(Scripted):
        async def authenticate(self, request: AuthRequest) -> Decision:
            self.calls.append(request)
            await asyncio.sleep(30 if request.user == "bob" else 0)
            return Decision.accept()

    engine = SlowForBob(lambda r: Decision.accept())
    answers: dict[str, bytes | None] = {}

    async def scenario(server: RadiusServer, auth: int, _acct: int) -> None:
        server.request_timeout = 0.3
        slow = encode(access_request(SECRET, "bob", "pw"))
        answers["bob"] = await send(auth, slow, 0.6)
        answers["alice"] = await send(auth, encode(access_request(SECRET, "alice", "pw")))
        answers["bob again"] = await send(auth, slow, 0.6)
        assert not server.inflight and not server._timed_out

    server = run(engine, scenario)
    assert answers["bob"] is None and answers["bob again"] is None
    assert answers["alice"] is not None and answers["alice"][0] == codec.ACCESS_ACCEPT
    assert server.counters[counters.TIMEOUTS] == 2
    assert [r.user for r in engine.calls] == ["bob", "alice", "bob"]  # not a duplicate in progress


def test_unknown_sources_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    from radiusd.radius.counters import DropLog

    now = [1000.0]
    import logging

    drops = DropLog(logging.getLogger("t"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            drops.drop(counters.UNKNOWN_CLIENT, "192.0.2.1", None)
        drops.drop(counters.UNKNOWN_CLIENT, "192.0.2.2", None)
        now[0] += 61
        drops.drop(counters.UNKNOWN_CLIENT, "192.0.2.1", None)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert "192.0.2.2" in lines[1] and "4 more from this source not logged" in lines[2]
