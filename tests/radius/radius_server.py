"""Start a real `radiusd serve` for end-to-end tests: reusable by every front door's tests.

    from radius.radius_server import running_radiusd

    with running_radiusd(tmp_path, users={"alice": "pw"}, totp={"alice": B32}) as srv:
        srv.host, srv.auth_port, srv.acct_port, srv.secret, srv.log_path, srv.cli("audit", ...)

It writes a configuration (fast argon2, SQLite in tmp_path unless db_url is given), runs
`radiusd init`, adds users and TOTP tokens through the CLI, starts `python -m radiusd serve` on
free loopback ports and waits until Status-Server is answered.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import free_port, write_config
from radius.radius_client import ask, status_server

SECRET = "s3cret-for-tests"


def base_config(tmp_path: Path, db_url: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "backends": {"local": {"time_cost": 1, "memory_cost": 8}},
        "log": {"level": "info"},
        "radius": {
            "clients": [
                {"name": "loopback", "address": "127.0.0.0/8", "secret": SECRET},
                {"name": "loopback6", "address": "::1", "secret": SECRET},
            ]
        },
    }
    if db_url:
        config["database"] = {"url": db_url}
    return config


def cli(config: Path, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `radiusd -c CONFIG ARGS…`; raises with its output when it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "radiusd", "-c", str(config), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"radiusd {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@dataclass
class Radiusd:
    config: Path
    host: str
    auth_port: int
    acct_port: int
    secret: str
    log_path: Path
    process: subprocess.Popen[bytes]
    workers: int = 1
    _counter_lines: int = field(default=0, repr=False)

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return cli(self.config, *args, input=input)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def counters(self, timeout: float = 10.0) -> dict[str, int]:
        """Ask the server (SIGUSR1) for its counters, summed over workers."""
        before = self.log().count("counters on request")
        self.signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if text.count("counters on request") >= before + self.workers:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the server did not log its counters")
        lines = [ln for ln in self.log().splitlines() if "counters on request" in ln][before:]
        total: dict[str, int] = {}
        for line in lines:
            for k, v in json.loads(line.split(": ", 2)[-1]).items():
                total[k] = total.get(k, 0) + v
        return total

    def pids_serving(self) -> set[int]:
        return {int(m) for m in re.findall(r"serving RADIUS on .* \(pid (\d+)\)", self.log())}


def wait_until_answering(
    host: str, port: int, secret: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"radiusd serve exited ({process.returncode}):\n{log.read_text()}")
        if ask(host, port, status_server(secret), timeout=0.2) is not None:
            return
    raise AssertionError(f"radiusd serve did not answer Status-Server:\n{log.read_text()}")


@contextmanager
def running_radiusd(
    tmp_path: Path,
    *,
    users: Mapping[str, str] = {},
    totp: Mapping[str, str] = {},
    config: dict[str, Any] | None = None,
    db_url: str | None = None,
    workers: int = 1,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
) -> Iterator[Radiusd]:
    """A running server; stopped (SIGTERM) when the block ends. `config` replaces base_config()."""
    data = config if config is not None else base_config(tmp_path, db_url)
    config_path = write_config(tmp_path / "radiusd.yaml", data)
    cli(config_path, "init", "--quiet")
    for name, password in users.items():
        cli(config_path, "user", "add", name, "--password-stdin", input=password + "\n")
    for name, secret in totp.items():
        cli(config_path, "token", "add", name, "totp", "--secret", secret)
    auth_port, acct_port = free_port(host=host), free_port(host=host)
    log_path = tmp_path / "radiusd.log"
    command = [sys.executable, "-m", "radiusd", "-c", str(config_path), "serve", "--address", host]
    command += ["--auth-port", str(auth_port), "--acct-port", str(acct_port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
    server = Radiusd(config_path, host, auth_port, acct_port, SECRET, log_path, process, workers)
    try:
        wait_until_answering(host, auth_port, SECRET, process, log_path)
        deadline = time.monotonic() + 30
        while len(server.pids_serving()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
