"""The helper's RADIUS client against scripted servers on loopback: Message-Authenticator both
ways, failover with per-server timeouts, and replies that must be ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import free_port
from pam_peers import FakeRadius, silent_udp_port, totp_script
from pyrad import packet as rp

from radiusd.pamclient.radius_client import LoginContext, NoServerAnswered, RadiusClient, Verdict
from radiusd.pamclient.settings import ServerConfig
from radiusd.radius.dictionary import dictionary_path, load_dictionary

LOGIN = LoginContext(user="alice", nas_identifier="sshd", calling_station="192.0.2.7")


def server(port: int, secret: str = "s3cret") -> ServerConfig:
    return ServerConfig(address="127.0.0.1", port=port, secret=secret, timeout=0.3, retries=0)


def client(*servers: ServerConfig) -> RadiusClient:
    return RadiusClient(list(servers), load_dictionary(dictionary_path(None)))


@pytest.fixture
def radius() -> Iterator[FakeRadius]:
    fake = FakeRadius(b"s3cret", totp_script("pw", "123456"))
    yield fake
    fake.close()


def test_accept_and_what_the_server_sees(radius: FakeRadius) -> None:
    reply = client(server(radius.port)).authenticate(LOGIN, "pw123456")
    assert reply.verdict is Verdict.ACCEPT
    seen = radius.seen[0]
    assert seen.had_message_authenticator
    assert (seen.user, seen.password) == ("alice", "pw123456")
    assert seen.attributes["NAS-Identifier"] == "sshd"
    assert seen.attributes["Calling-Station-Id"] == "192.0.2.7"


def test_challenge_carries_message_and_state_back(radius: FakeRadius) -> None:
    c = client(server(radius.port))
    reply = c.authenticate(LOGIN, "pw")
    assert reply.verdict is Verdict.CHALLENGE
    assert (reply.messages, reply.state) == (("Enter your one-time code",), b"st-1")
    assert c.authenticate(LOGIN, "123456", reply.state).verdict is Verdict.ACCEPT
    assert radius.seen[1].state == b"st-1"


def test_wrong_code_is_rejected(radius: FakeRadius) -> None:
    assert client(server(radius.port)).authenticate(LOGIN, "pw000000").verdict is Verdict.REJECT


def test_failover_past_a_silent_server(radius: FakeRadius) -> None:
    sock, silent = silent_udp_port()
    with sock:
        c = client(server(silent), server(radius.port))
        assert c.authenticate(LOGIN, "pw123456").verdict is Verdict.ACCEPT
        # the server that answered is asked first next time
        assert c.preferred == 1
        assert c.authenticate(LOGIN, "pw123456").server.endswith(f":{radius.port}")


def test_failover_past_a_refusing_port(radius: FakeRadius) -> None:
    c = client(server(free_port()), server(radius.port))
    assert c.authenticate(LOGIN, "pw123456").verdict is Verdict.ACCEPT


def test_no_server_answers() -> None:
    sock, silent = silent_udp_port()
    with sock, pytest.raises(NoServerAnswered):
        client(server(silent), server(free_port())).authenticate(LOGIN, "pw123456")


def test_reply_without_message_authenticator_is_ignored() -> None:
    fake = FakeRadius(b"s3cret", lambda *_: (rp.AccessAccept, [], None), sign_replies=False)
    try:
        with pytest.raises(NoServerAnswered):
            client(server(fake.port)).authenticate(LOGIN, "anything")
        assert fake.seen, "the server did get the request"
    finally:
        fake.close()


def test_reply_signed_with_another_secret_is_ignored() -> None:
    fake = FakeRadius(b"s3cret", lambda *_: (rp.AccessAccept, [], None), reply_secret=b"other")
    try:
        with pytest.raises(NoServerAnswered):
            client(server(fake.port)).authenticate(LOGIN, "anything")
    finally:
        fake.close()


def test_request_with_wrong_secret_gets_no_answer() -> None:
    fake = FakeRadius(b"s3cret", lambda *_: (rp.AccessAccept, [], None))
    try:
        with pytest.raises(NoServerAnswered):
            client(server(fake.port, secret="not-it")).authenticate(LOGIN, "anything")
        assert fake.seen and not fake.seen[0].had_message_authenticator
    finally:
        fake.close()
