"""Run-wide check: no password, code or token secret the tests used appears in any log line or
audit row written during the test run. Loaded from tests/conftest.py (pytest_plugins).

What it learns by itself, so other tests feed it without effort:
- secrets: every password sent over RADIUS (pyrad's PwCrypt), every one-time code computed by test
  code (pyotp), every password hashed in-process, every `--password-stdin` input and
  `--password`/`--secret` argument given to a `radiusd` subprocess. `register_secrets()` adds more.
- text: every Python log record (the `radiusd` loggers at DEBUG), every *.log, *.jsonl, *.err and
  *.out file under the run's temporary folders (a server that tests start writes its output to a
  file named like that in tmp_path), and every audit row in the SQLite databases there and in
  each PostgreSQL test database before the `pg_url` fixture drops it.

At the end of the run each secret is searched in all of it; a hit fails the run, naming where
(the secret itself is never printed). Once armed (in CI, or by tests/audit's arming test) a run that
collected no secrets or no text fails too, so the check can never pass by looking at nothing.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, wraps
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = TESTS_DIR.parent / "radiusd"
_TESTS_PREFIX = str(TESTS_DIR) + os.sep
LOG_SUFFIXES = (".log", ".jsonl", ".err", ".out")
MIN_LENGTH = 6
"""Shorter secrets ('pw', '1234') would match by chance; tests should use longer ones."""


@dataclass
class Finding:
    label: str
    where: str
    excerpt: str


@dataclass
class Collector:
    secrets: dict[str, str] = field(default_factory=dict)
    """secret → where it was learnt (for the report)."""
    texts: list[tuple[str, str]] = field(default_factory=list)
    """(where, text): log records, file lines, audit rows."""
    audit_rows: int = 0
    armed: bool = False

    def register(self, value: object, label: str) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value and value not in self.secrets:
            self.secrets[value] = label

    def add_text(self, where: str, text: str) -> None:
        if text:
            self.texts.append((where, text))

    def add_audit_rows(self, where: str, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.audit_rows += 1
            self.add_text(where, " | ".join("" if v is None else str(v) for v in row))

    def searchable(self) -> dict[str, str]:
        vocabulary = product_vocabulary()
        return {
            s: label
            for s, label in self.secrets.items()
            if len(s) >= MIN_LENGTH and s.lower() not in vocabulary
        }

    def find(self) -> list[Finding]:
        patterns = {
            s: re.compile(rf"(?<![0-9.]){re.escape(s)}(?![0-9])" if s.isdigit() else re.escape(s))
            for s in self.searchable()
        }
        findings = []
        for where, text in self.texts:
            for secret, pattern in patterns.items():
                for line in text.splitlines() or [text]:
                    if pattern.search(line):
                        findings.append(Finding(self.secrets[secret], where, mask(line, secret)))
        return findings


def mask(line: str, secret: str) -> str:
    return line.replace(secret, f"<{len(secret)}-char secret>")[:300]


@cache
def product_vocabulary() -> frozenset[str]:
    """Words the product prints by itself ('password', 'challenge'): a secret equal to one proves nothing."""
    words: set[str] = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        words.update(w.lower() for w in re.findall(r"[A-Za-z0-9_]+", path.read_text(errors="replace")))
    return frozenset(words)


COLLECTOR = Collector()


def register_secrets(*values: str) -> None:
    """Tell the run-wide check about secrets a test typed that it cannot see by itself."""
    for value in values:
        COLLECTOR.register(value, "registered by a test")


def arm() -> None:
    COLLECTOR.armed = True


# -- collecting text -------------------------------------------------------------------------------


class _LogCapture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg} {record.args}"
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        COLLECTOR.add_text(f"log record {record.name}", f"{text}\n{record.exc_text or ''}")


def collect_sqlite_audit(path: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return
    try:
        rows = conn.execute("SELECT * FROM audit_events").fetchall()
    except sqlite3.Error:
        return  # not a radiusd store, or no schema yet
    finally:
        conn.close()
    COLLECTOR.add_audit_rows(f"audit row in {path}", rows)


def collect_database(url: str) -> None:
    """Read a test database's audit rows before it is dropped (called by the pg_url fixture)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM audit_events")).all()
    except SQLAlchemyError:
        return
    finally:
        engine.dispose()
    COLLECTOR.add_audit_rows(f"audit row in {url.rsplit('/', 1)[-1]}", rows)


def collect_files(root: Path) -> int:
    found = 0
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix in LOG_SUFFIXES:
            found += 1
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                COLLECTOR.add_text(f"{path}:{n}", line)
        elif path.suffix == ".db":
            collect_sqlite_audit(path)
    return found


# -- learning secrets ------------------------------------------------------------------------------


def _called_from_tests() -> bool:
    """Whether test code (not the server under test) asked for this code: a few frames up."""
    frame = sys._getframe(2)
    for _ in range(6):
        if frame is None:
            return False
        name = frame.f_code.co_filename
        if name.startswith(_TESTS_PREFIX) and name != __file__:
            return True
        frame = frame.f_back
    return False


def _argv_secrets(args: Any) -> list[str]:
    if not isinstance(args, list | tuple):
        return []
    argv = [str(a) for a in args]
    found = []
    for i, arg in enumerate(argv):
        for flag in ("--password", "--secret"):
            if arg == flag and i + 1 < len(argv):
                found.append(argv[i + 1])
            elif arg.startswith(flag + "="):
                found.append(arg.split("=", 1)[1])
    return found


def _patch(monkeypatch: pytest.MonkeyPatch) -> None:
    import pyotp
    from pyrad.packet import AuthPacket

    from radiusd.crypto.passwords import PasswordHashing

    pw_crypt = AuthPacket.PwCrypt

    @wraps(pw_crypt)
    def pw_crypt_seen(self: Any, password: Any) -> Any:
        COLLECTOR.register(password, "password sent over RADIUS")
        return pw_crypt(self, password)

    generate = pyotp.OTP.generate_otp

    @wraps(generate)
    def generate_seen(self: Any, input: int) -> str:
        code = generate(self, input)
        if _called_from_tests():
            COLLECTOR.register(code, "one-time code computed by a test")
            COLLECTOR.register(self.secret, "token secret used by a test")
        return code

    hash_password = PasswordHashing.hash

    @wraps(hash_password)
    def hash_seen(self: Any, password: str) -> str:
        COLLECTOR.register(password, "password hashed in-process")
        return hash_password(self, password)

    run = subprocess.run

    @wraps(run)
    def run_seen(*args: Any, **kwargs: Any) -> Any:
        argv = args[0] if args else kwargs.get("args")
        for value in _argv_secrets(argv):
            COLLECTOR.register(value, "secret on a radiusd command line")
        if isinstance(argv, list | tuple) and "--password-stdin" in [str(a) for a in argv]:
            data = kwargs.get("input")
            if isinstance(data, bytes | str):
                first = data.decode() if isinstance(data, bytes) else data
                COLLECTOR.register(first.splitlines()[0] if first.strip() else "", "password given on stdin")
        return run(*args, **kwargs)

    monkeypatch.setattr(AuthPacket, "PwCrypt", pw_crypt_seen)
    monkeypatch.setattr(pyotp.OTP, "generate_otp", generate_seen)
    monkeypatch.setattr(PasswordHashing, "hash", hash_seen)
    monkeypatch.setattr(subprocess, "run", run_seen)


# -- the pytest side -------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _secret_scan_watch() -> Any:
    mp = pytest.MonkeyPatch()
    _patch(mp)
    handler = _LogCapture(logging.DEBUG)
    root, ours = logging.getLogger(), logging.getLogger("radiusd")
    root.addHandler(handler)
    level = ours.level
    if ours.level == logging.NOTSET or ours.level > logging.DEBUG:
        ours.setLevel(logging.DEBUG)
    yield COLLECTOR
    root.removeHandler(handler)
    ours.setLevel(level)
    mp.undo()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        COLLECTOR.armed = True
    factory = getattr(session.config, "_tmp_path_factory", None)
    files = 0
    if factory is not None and getattr(factory, "_basetemp", None) is not None:
        files = collect_files(factory.getbasetemp())
    findings = COLLECTOR.find()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line, red=True, bold=True)

    problems: list[str] = []
    if findings:
        problems.append(f"{len(findings)} log line(s) or audit row(s) contain a secret the tests used:")
        problems += [f"  {f.label} in {f.where}: {f.excerpt}" for f in findings[:50]]
    elif COLLECTOR.armed and (not COLLECTOR.searchable() or not COLLECTOR.texts):
        problems.append(
            "the secret scan collected nothing "
            f"({len(COLLECTOR.searchable())} secrets, {len(COLLECTOR.texts)} texts, {files} log files, "
            f"{COLLECTOR.audit_rows} audit rows): the check would prove nothing"
        )
    if problems:
        if reporter is not None:
            reporter.write_sep("!", "secret scan failed", red=True)
        for line in problems:
            say(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None and COLLECTOR.texts:
        reporter.ensure_newline()
        reporter.write_line(
            f"secret scan: {len(COLLECTOR.searchable())} secrets searched in "
            f"{len(COLLECTOR.texts)} log lines and audit rows "
            f"({files} log files, {COLLECTOR.audit_rows} audit rows): none found"
        )
