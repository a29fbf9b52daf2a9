"""What the PAM and SSH tests share (`from pam_peers import ...`): the built module, PAM service files
and local users that are removed even when a test fails, and a scripted RADIUS server for the
helper's unit tests."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pyrad import packet as rp

from radiusd.radius.dictionary import dictionary_path, load_dictionary

RADIUSD = Path(sys.executable).parent / "radiusd"
PAM_D = Path("/etc/pam.d")


@pytest.fixture(scope="session")
def pam_module_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pam_radiusd.so built once per session (import this fixture into a test module)."""
    return build_module(tmp_path_factory.mktemp("pamroot"))


def build_module(prefix: Path) -> Path:
    """`radiusd pam install --prefix` into a temporary root; returns the module's path."""
    subprocess.run(
        [str(RADIUSD), "pam", "install", "--prefix", str(prefix)], capture_output=True, text=True, check=True
    )
    return next(prefix.rglob("pam_radiusd.so"))


@contextlib.contextmanager
def pam_service(lines: list[str], prefix: str = "radiusd-test") -> Iterator[str]:
    """A PAM service file in /etc/pam.d with a random name; removed afterwards whatever happens."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    path = PAM_D / name
    path.write_text("\n".join(lines) + "\n")
    try:
        yield name
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def local_user(password: str) -> Iterator[str]:
    """A local account (no home directory) with this password; deleted afterwards."""
    name = f"rdt{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True)
        yield name
    finally:
        subprocess.run(["userdel", "--force", name], check=False, capture_output=True)


# -- a scripted RADIUS server ------------------------------------------------------------------

Answer = tuple[int, list[str], bytes | None]
"""(reply code, Reply-Messages, State)"""
Script = Callable[[str, str, bytes | None], Answer]
"""(user, password as decrypted, State or None) -> Answer"""


@dataclass
class Seen:
    user: str
    password: str
    state: bytes | None
    had_message_authenticator: bool
    attributes: dict[str, str]


@dataclass
class FakeRadius:
    """Answers Access-Requests on loopback from a script (user, password, state) -> Answer.

    Requests without a valid Message-Authenticator are dropped, as radiusd drops them."""

    secret: bytes
    script: Script
    sign_replies: bool = True
    reply_secret: bytes | None = None
    """Sign replies with another secret (a reply the client must refuse)."""
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self.dictionary = load_dictionary(dictionary_path(None))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)  # so that close() is noticed quickly
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = rp.AuthPacket(packet=data, secret=self.secret, dict=self.dictionary)
            has_ma = request.message_authenticator is not None
            if not has_ma or not request.verify_message_authenticator():
                self.seen.append(Seen(request["User-Name"][0], "", None, False, {}))
                continue
            password = request.PwDecrypt(request[2][0])
            state = request[24][0] if 24 in request else None
            names = request.keys()  # pyrad's names; iterating the packet gives attribute numbers
            attributes = {k: str(request[k][0]) for k in names if isinstance(k, str) and k != "User-Password"}
            self.seen.append(Seen(request["User-Name"][0], password, state, True, attributes))
            code, messages, new_state = self.script(request["User-Name"][0], password, state)
            if self.reply_secret is not None:
                request.secret = self.reply_secret
            reply = request.CreateReply(message_authenticator=self.sign_replies)
            reply.code = code
            for message in messages:
                reply.AddAttribute("Reply-Message", message)
            if new_state is not None:
                reply.AddAttribute("State", new_state)
            self.sock.sendto(reply.ReplyPacket(), peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


def totp_script(password: str, code: str, state: bytes = b"st-1") -> Script:
    """Accepts password+code in one, or the password and then the code as the challenge's answer."""

    def script(user: str, secret: str, state_in: bytes | None) -> Answer:
        if state_in is None and secret == password + code:
            return rp.AccessAccept, [], None
        if state_in is None and secret == password:
            return rp.AccessChallenge, ["Enter your one-time code"], state
        if state_in == state and secret == code:
            return rp.AccessAccept, ["Welcome"], None
        return rp.AccessReject, [], None

    return script


def silent_udp_port() -> tuple[socket.socket, int]:
    """A bound UDP socket that never answers: a server that is down but not refusing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock, sock.getsockname()[1]


def helper_config(path: Path, servers: list[tuple[int, str]], **extra: object) -> Path:
    import yaml

    data: dict[str, object] = {
        "servers": [
            {"address": "127.0.0.1", "port": port, "secret": secret, "timeout": 0.5, "retries": 0}
            for port, secret in servers
        ],
        **extra,
    }
    path.write_text(yaml.safe_dump(data))
    os.chmod(path, 0o600)
    return path
