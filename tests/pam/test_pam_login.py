"""One login through the helper's flow: prompting modes, first-pass passwords, challenges, the QR
code for enrolment, and fail-closed / fail-open when no server answers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from pam_peers import Answer, FakeRadius, silent_udp_port, totp_script
from pyrad import packet as rp

from radiusd.pamclient.channel import Result
from radiusd.pamclient.login import Login, as_prompt, reply_text
from radiusd.pamclient.radius_client import RadiusClient
from radiusd.pamclient.settings import HelperConfig, ModuleArguments
from radiusd.radius.dictionary import dictionary_path, load_dictionary

URI = "otpauth://totp/radiusd:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=radiusd"


@dataclass
class ScriptedUser:
    """The PAM module's side: answers prompts from a list and records what the user was shown."""

    answers: list[str]
    prompts: list[tuple[str, bool]] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    authtok: str | None = None

    def prompt(self, text: str, echo: bool = False) -> str:
        self.prompts.append((text, echo))
        return self.answers.pop(0)

    def info(self, text: str) -> None:
        self.infos.append(text)

    def error(self, text: str) -> None:
        self.errors.append(text)

    def set_authtok(self, password: str) -> None:
        self.authtok = password


@pytest.fixture
def radius() -> Iterator[FakeRadius]:
    fake = FakeRadius(b"s3cret", totp_script("pw", "123456"))
    yield fake
    fake.close()


def run(
    port: int,
    answers: list[str],
    argv: tuple[str, ...] = (),
    items: dict[str, str] | None = None,
    **config: object,
) -> tuple[Result, ScriptedUser]:
    user = ScriptedUser(list(answers))
    settings = HelperConfig.model_validate(
        {
            "servers": [
                {"address": "127.0.0.1", "port": port, "secret": "s3cret", "timeout": 0.3, "retries": 0}
            ]
        }
        | config
    )
    client = RadiusClient(settings.servers, load_dictionary(dictionary_path(None)))
    login = Login(
        user, client, settings, ModuleArguments.parse(list(argv)), {"user": "alice"} | (items or {})
    )  # type: ignore[arg-type]
    return login.run(), user


def test_combined_one_prompt(radius: FakeRadius) -> None:
    result, user = run(radius.port, ["pw123456"])
    assert result is Result.SUCCESS
    assert user.prompts == [("Password and one-time code: ", False)]


def test_combined_wrong_code(radius: FakeRadius) -> None:
    assert run(radius.port, ["pw654321"])[0] is Result.REJECT


def test_separate_password_then_the_servers_challenge(radius: FakeRadius) -> None:
    result, user = run(radius.port, ["pw", "123456"], ("prompt=separate",))
    assert result is Result.SUCCESS
    assert user.prompts == [("Password: ", False), ("Enter your one-time code: ", False)]
    assert user.authtok == "pw"
    assert user.infos == ["Welcome"]
    assert [s.state for s in radius.seen] == [None, b"st-1"]


def test_separate_wrong_code(radius: FakeRadius) -> None:
    assert run(radius.port, ["pw", "000000"], ("prompt=separate",))[0] is Result.REJECT


def test_code_only_sends_the_code_alone(radius: FakeRadius) -> None:
    result, user = run(radius.port, ["123456"], ("prompt=code",), {"authtok": "ignored"})
    assert result is Result.REJECT  # the scripted server wants a password: what matters is what it got
    assert user.prompts == [("One-time code: ", False)]
    assert radius.seen[0].password == "123456"


def test_use_first_pass_takes_the_earlier_password(radius: FakeRadius) -> None:
    result, user = run(radius.port, ["123456"], ("use_first_pass",), {"authtok": "pw"})
    assert result is Result.SUCCESS
    assert user.prompts == [("Enter your one-time code: ", False)]
    assert radius.seen[0].password == "pw"


def test_use_first_pass_without_a_password_fails_without_asking(radius: FakeRadius) -> None:
    result, user = run(radius.port, [], ("use_first_pass",))
    assert result is Result.REJECT
    assert user.prompts == [] and radius.seen == []


def test_try_first_pass_asks_when_there_is_none(radius: FakeRadius) -> None:
    result, user = run(radius.port, ["pw", "123456"], ("try_first_pass", "prompt=separate"))
    assert result is Result.SUCCESS
    assert user.prompts[0] == ("Password: ", False)


def test_enrolment_challenge_draws_the_qr_code() -> None:
    def script(user: str, secret: str, state: bytes | None) -> Answer:
        if state is None:
            return rp.AccessChallenge, ["Scan the code with your authenticator app", URI], b"enrol"
        return (rp.AccessAccept if secret == "111111" else rp.AccessReject), [], None

    fake = FakeRadius(b"s3cret", script)
    try:
        result, user = run(fake.port, ["pw", "111111"])
    finally:
        fake.close()
    assert result is Result.SUCCESS
    (shown,) = user.infos
    assert shown.endswith("\n" + URI)
    assert "▀" in shown or "▄" in shown  # half-block QR modules
    assert user.prompts[1] == ("Scan the code with your authenticator app: ", False)


def test_endless_challenges_end_in_a_reject() -> None:
    fake = FakeRadius(b"s3cret", lambda *_: (rp.AccessChallenge, ["again"], b"s"))
    try:
        result, user = run(fake.port, ["x"] * 10, max_rounds=2)
    finally:
        fake.close()
    assert result is Result.REJECT
    assert len(user.prompts) == 3


def test_reject_message_is_shown() -> None:
    fake = FakeRadius(b"s3cret", lambda *_: (rp.AccessReject, ["The code could not be sent"], None))
    try:
        result, user = run(fake.port, ["x"])
    finally:
        fake.close()
    assert result is Result.REJECT
    assert user.errors == ["The code could not be sent"]


@pytest.mark.parametrize(
    ("rhost", "expected"),
    [
        (None, Result.UNAVAILABLE),
        ("192.0.2.9", Result.UNAVAILABLE),
        ("admin-pc.example.org", Result.UNAVAILABLE),
        ("10.1.2.3", Result.IGNORE),
    ],
)
def test_no_server_fails_closed_except_for_listed_networks(rhost: str | None, expected: Result) -> None:
    sock, silent = silent_udp_port()
    with sock:
        items = {"rhost": rhost} if rhost else {}
        result, user = run(silent, ["pw123456"], items=items, allow_when_unreachable=["10.0.0.0/8"])
    assert result is expected
    if expected is Result.UNAVAILABLE:
        assert user.errors == ["The authentication server cannot be reached."]


def test_reply_text_joins_split_messages() -> None:
    long = "x" * 253
    assert reply_text((long, "tail")) == long + "tail"
    assert reply_text(("one", "two")) == "one\ntwo"
    assert reply_text(()) == ""


@pytest.mark.parametrize(
    ("text", "prompt"),
    [("Enter code", "Enter code: "), ("Code:", "Code: "), ("Code: ", "Code: "), ("", "Fallback: ")],
)
def test_prompts_end_in_a_separator(text: str, prompt: str) -> None:
    assert as_prompt(text, "Fallback: ") == prompt
