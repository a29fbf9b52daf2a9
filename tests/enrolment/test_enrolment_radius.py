"""How the enrolment URI reaches the user over RADIUS: the prompt as the first Reply-Message (all
pam_radius_auth shows), the URI in further Reply-Messages of at most 253 octets, put together again
by the PAM helper exactly as it was sent."""

from __future__ import annotations

import ipaddress

from radius.radius_client import access_request

from radiusd.engine.enrolment import PROMPT
from radiusd.engine.types import Decision, Outcome
from radiusd.pamclient.login import reply_text
from radiusd.pamclient.qr import find_otpauth_uri
from radiusd.radius import codec
from radiusd.radius.clients import Client
from radiusd.radius.translate import access_reply, message_chunks

SECRET = "enrolment-secret"
CLIENT = Client("nas", ipaddress.ip_network("192.0.2.0/24"), SECRET.encode())
URI = "otpauth://totp/radiusd:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=radiusd"


def challenge(*lines: str) -> Decision:
    return Decision(Outcome.CHALLENGE, message=PROMPT, state=b"state-1", factor="totp", lines=lines)


def messages(decision: Decision) -> list[str]:
    request = access_request(SECRET, "alice", "pw")
    reply = request.CreateReply(packet=access_reply(request, CLIENT, decision))
    assert reply.code == codec.ACCESS_CHALLENGE and reply["State"] == [b"state-1"]
    return list(reply["Reply-Message"])


def test_prompt_first_then_the_uri() -> None:
    sent = messages(challenge(URI))
    assert sent == [PROMPT, URI]
    assert len(sent[0]) <= 80
    text = reply_text(tuple(sent))
    assert find_otpauth_uri(text) == URI and text.startswith(PROMPT + "\n")


def test_a_long_uri_is_split_at_253_octets_and_joined_again() -> None:
    long_uri = URI + "&image=" + "x" * 600
    sent = messages(challenge(long_uri))
    assert sent[0] == PROMPT and len(sent) == 1 + 3
    assert all(len(m.encode()) <= 253 for m in sent) and len(sent[1].encode()) == 253
    assert find_otpauth_uri(reply_text(tuple(sent))) == long_uri


def test_chunks_never_cut_a_character() -> None:
    text = "é" * 300  # two octets each
    chunks = message_chunks(text)
    assert "".join(chunks) == text and all(len(c.encode()) <= 253 for c in chunks)


def test_an_ordinary_challenge_still_has_one_message() -> None:
    assert messages(Decision.challenge("Enter your one-time code", b"state-1")) == [
        "Enter your one-time code"
    ]
