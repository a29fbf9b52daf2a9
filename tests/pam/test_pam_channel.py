"""The framed socket between pam_radiusd.so and the helper."""

from __future__ import annotations

import io
import socket

import pytest

from radiusd.pamclient.channel import Channel, ChannelError, ConversationAborted, Result


def pair() -> tuple[Channel, socket.socket]:
    ours, theirs = socket.socketpair()
    return Channel(ours.makefile("rb", buffering=0), ours.makefile("wb")), theirs  # type: ignore[arg-type]


def read_frame(sock: socket.socket) -> tuple[str, bytes]:
    reader = sock.makefile("rb", buffering=0)
    word, length = reader.readline().decode().split()
    return word, reader.read(int(length))


def test_items_then_prompt_and_answer() -> None:
    channel, module = pair()
    module.sendall(b"ITEM 10\nuser=aliceITEM 14\nrhost=10.0.0.1END 0\n")
    assert channel.read_items() == {"user": "alice", "rhost": "10.0.0.1"}
    module.sendall("ANSWER 7\nsécret".encode())
    assert channel.prompt("Password: ") == "sécret"
    assert read_frame(module) == ("ECHO_OFF", b"Password: ")


def test_echo_on_info_result_frames() -> None:
    channel, module = pair()
    channel.info("two\nlines")
    assert read_frame(module) == ("INFO", b"two\nlines")
    channel.result(Result.UNAVAILABLE)
    assert read_frame(module) == ("RESULT", b"unavailable")


def test_abort_raises() -> None:
    channel, module = pair()
    module.sendall(b"ABORT 0\n")
    with pytest.raises(ConversationAborted):
        channel.prompt("Code: ", echo=True)


@pytest.mark.parametrize(
    "raw",
    [b"", b"ITEM 5\nab", b"ITEM x\n", b"ITEM 99999999\n", b"NOSPACE\n", b"ITEM 3\nabc", b"ITEM 2\n\xff\xfe"],
)
def test_malformed_or_cut_input_is_an_error(raw: bytes) -> None:
    channel = Channel(io.BytesIO(raw), io.BytesIO())
    with pytest.raises(ChannelError):
        channel.read_items()
