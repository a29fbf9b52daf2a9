"""The socket between pam_radiusd.so and this helper: framed messages, "<WORD> <LENGTH>\\n<bytes>".

The module sends the PAM items (ITEM "key=value" frames, then END); afterwards the helper asks and
the module answers: ECHO_OFF / ECHO_ON prompts get ANSWER (or ABORT when the user's conversation
failed), INFO / ERROR are shown, AUTHTOK sets PAM_AUTHTOK, RESULT ends the exchange.
"""

from __future__ import annotations

import enum
from typing import BinaryIO

MAX_FRAME = 65536


class ChannelError(Exception):
    """The module sent something this helper does not understand, or went away."""


class ConversationAborted(Exception):
    """The application could not ask the user (closed connection, no terminal)."""


class Result(enum.Enum):
    SUCCESS = "success"
    REJECT = "reject"
    UNAVAILABLE = "unavailable"
    """No server answered: PAM_AUTHINFO_UNAVAIL."""
    IGNORE = "ignore"
    """No server answered and the source may fail open: PAM_IGNORE, so the other modules of the
    stack (the one that checked the password) decide alone."""
    ABORT = "abort"


class Channel:
    def __init__(self, reader: BinaryIO, writer: BinaryIO) -> None:
        self.reader = reader
        self.writer = writer

    # -- frames --------------------------------------------------------------------------------

    def send(self, word: str, data: str = "") -> None:
        body = data.encode()
        if len(body) > MAX_FRAME:
            raise ChannelError(f"{word} frame too long ({len(body)} bytes)")
        self.writer.write(f"{word} {len(body)}\n".encode() + body)
        self.writer.flush()

    def receive(self) -> tuple[str, str]:
        head = self.reader.readline(64)
        if not head.endswith(b"\n"):
            raise ChannelError("the PAM module closed the connection")
        try:
            word, length = head.decode("ascii").split()
            size = int(length)
        except ValueError:
            raise ChannelError(f"malformed frame header {head[:40]!r}") from None
        if not 0 <= size <= MAX_FRAME:
            raise ChannelError(f"frame length {size} out of range")
        body = self.reader.read(size) if size else b""
        if len(body) != size:
            raise ChannelError("the PAM module closed the connection")
        try:
            return word, body.decode()
        except UnicodeDecodeError:
            raise ChannelError(f"{word} frame is not UTF-8") from None

    # -- the helper's side ---------------------------------------------------------------------

    def read_items(self) -> dict[str, str]:
        """The PAM items (user, rhost, service, tty, authtok) the module sends first."""
        items: dict[str, str] = {}
        while True:
            word, data = self.receive()
            if word == "END":
                return items
            if word != "ITEM" or "=" not in data:
                raise ChannelError(f"expected ITEM or END, got {word}")
            key, value = data.split("=", 1)
            items[key] = value

    def prompt(self, text: str, echo: bool = False) -> str:
        self.send("ECHO_ON" if echo else "ECHO_OFF", text)
        word, data = self.receive()
        if word == "ABORT":
            raise ConversationAborted()
        if word != "ANSWER":
            raise ChannelError(f"expected ANSWER, got {word}")
        return data

    def info(self, text: str) -> None:
        self.send("INFO", text)

    def error(self, text: str) -> None:
        self.send("ERROR", text)

    def set_authtok(self, password: str) -> None:
        self.send("AUTHTOK", password)

    def result(self, result: Result) -> None:
        self.send("RESULT", result.value)
