"""SMS through a real local program (as gammu-smsd-inject or smstools' sendsms would be run)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import pytest

from radiusd.config.delivery import SmsConfig
from radiusd.delivery import message as message_module
from radiusd.delivery.message import CodeMessage, DeliveryError
from radiusd.delivery.sms import sms_sender

PHONE = "+4915112345678"


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(message_module, "BACKOFF", 0.01)


def program(folder: Path, body: str) -> Path:
    path = folder / "fake-sendsms"
    path.write_text(f"#!{sys.executable}\nimport json, os, sys, time\n{body}\n")
    path.chmod(0o755)
    return path


def send(cfg: SmsConfig, service: str = "vpn") -> None:
    msg = CodeMessage("559017", validity=300, service=service, user="carol", expires_at=time.time() + 300)
    asyncio.run(sms_sender(cfg).send(PHONE, msg))


def test_number_and_text_are_single_arguments_never_seen_by_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    prog = program(tmp_path, f"json.dump(sys.argv[1:], open({str(out)!r}, 'w'))")
    cfg = SmsConfig(provider="command", command=[str(prog), "TEXT", "{to}", "-text", "{text}"])
    # A service name full of shell syntax must arrive as text and run nothing.
    send(cfg, service=f"vpn; touch {tmp_path}/pwned $(id)")
    assert json.loads(out.read_text()) == [
        "TEXT",
        PHONE,
        "-text",
        f"Your code for vpn; touch {tmp_path}/pwned $(id) is 559017. Valid 5 min.",
    ]
    assert not (tmp_path / "pwned").exists()


def test_failing_program_reports_exit_status_and_last_error_line(tmp_path: Path) -> None:
    prog = program(tmp_path, "print('modem busy', file=sys.stderr); sys.exit(3)")
    cfg = SmsConfig(provider="command", command=[str(prog), "{to}", "{text}"], retries=1)
    with pytest.raises(DeliveryError) as caught:
        send(cfg)
    assert str(caught.value) == "sms command fake-sendsms: exit status 3: modem busy (after 2 attempts)"


def test_error_output_echoing_the_code_is_not_repeated(tmp_path: Path) -> None:
    prog = program(tmp_path, "print('cannot send', sys.argv[2], file=sys.stderr); sys.exit(1)")
    cfg = SmsConfig(provider="command", command=[str(prog), "{to}", "{text}"], retries=0)
    with pytest.raises(DeliveryError) as caught:
        send(cfg)
    assert str(caught.value) == "sms command fake-sendsms: exit status 1"


def test_missing_program(tmp_path: Path) -> None:
    cfg = SmsConfig(provider="command", command=[str(tmp_path / "nope"), "{to}", "{text}"])
    with pytest.raises(DeliveryError, match="sms command nope: No such file or directory"):
        send(cfg)


def test_hanging_program_is_killed_with_its_children(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    prog = program(
        tmp_path,
        "child = os.fork()\n"
        "if child == 0:\n    time.sleep(30); sys.exit(0)\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child}}')\n"
        "time.sleep(30)",
    )
    cfg = SmsConfig(provider="command", command=[str(prog), "{to}", "{text}"], timeout=1, retries=0)
    with pytest.raises(DeliveryError, match="sms command fake-sendsms: no answer within 1 s"):
        send(cfg)
    for pid in map(int, pids.read_text().split()):
        assert gone(pid), f"process {pid} still runs"


def gone(pid: int, timeout: float = 5.0) -> bool:
    """The process has exited (or is a zombie): SIGKILL is delivered asynchronously, so a process
    killed a moment ago may still show as running on a busy machine."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
