"""`radiusd serve` as a process: workers, SIGTERM under load, SIGHUP reload, refusals, IPv6."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from helpers import free_port, write_config
from radius.radius_client import access_request, accounting_request, ask, encode, exchange, status_server
from radius.radius_server import SECRET, Radiusd, base_config, cli, running_radiusd
from sqlalchemy import create_engine, text

from radiusd.radius import codec


def counters_by_pid(log: str) -> dict[int, dict[str, int]]:
    out = {}
    for pid, body in re.findall(r"counters at shutdown \(pid (\d+)\): (\{.*\})", log):
        out[int(pid)] = json.loads(body)
    return out


def test_two_workers_both_answer(tmp_path: Path) -> None:
    with running_radiusd(tmp_path, users={"alice": "pw"}, workers=2) as srv:
        assert len(srv.pids_serving()) == 2
        for _ in range(64):  # each from a new source port: SO_REUSEPORT spreads them
            reply = exchange(srv.host, srv.auth_port, encode(status_server(SECRET)), 5.0)
            assert reply is not None and reply[0] == codec.ACCESS_ACCEPT
        assert srv.stop() == 0
        per_worker = counters_by_pid(srv.log())
    assert set(per_worker) == srv.pids_serving()
    # The helper's own readiness probes are Status-Server too: at least our 64 were answered.
    assert all(c.get("received_code_12", 0) > 0 for c in per_worker.values()), per_worker
    assert sum(c["received_code_12"] for c in per_worker.values()) >= 64


def test_sigterm_under_load_loses_no_answered_record(tmp_path: Path) -> None:
    answered: list[str] = []
    stop = threading.Event()

    with running_radiusd(tmp_path, workers=2) as srv:

        def load(worker: int) -> None:
            n = 0
            while not stop.is_set():
                session = f"w{worker}-{n}"
                n += 1
                request = accounting_request(
                    SECRET, User_Name="u", Acct_Status_Type="Start", Acct_Session_Id=session
                )
                try:
                    reply = exchange(srv.host, srv.acct_port, encode(request), 1.0)
                except OSError:
                    return
                if reply is not None and reply[0] == codec.ACCOUNTING_RESPONSE:
                    answered.append(session)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        srv.signal(signal.SIGTERM)
        code = srv.process.wait(30)
        stop.set()
        for t in threads:
            t.join()
        log = srv.log()
    assert code == 0, log
    assert len(answered) > 20
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'radiusd.db'}")
    with engine.connect() as conn:
        stored = {r[0] for r in conn.execute(text("select session_id from accounting_records"))}
    engine.dispose()
    assert set(answered) <= stored


def from_source(srv: Radiusd, source: str) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        return exchange(srv.host, srv.auth_port, encode(status_server(SECRET)), 0.5, sock)


def wait_for_log(srv: Radiusd, needle: str, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while srv.log().count(needle) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.log().count(needle) >= count, srv.log()


def test_sighup_reloads_configured_and_stored_clients_without_a_restart(tmp_path: Path) -> None:
    config = base_config(tmp_path)
    config["radius"]["clients"] = [{"name": "one", "address": "127.0.0.1", "secret": SECRET}]
    with running_radiusd(tmp_path, config=config) as srv:
        pid = srv.process.pid
        assert from_source(srv, "127.0.0.3") is None and from_source(srv, "127.0.0.5") is None
        srv.cli("client", "add", "stored", "127.0.0.3", "--secret-stdin", input=SECRET + "\n")
        config["radius"]["clients"].append({"name": "two", "address": "127.0.0.5", "secret": SECRET})
        write_config(srv.config, config)
        srv.signal(signal.SIGHUP)
        wait_for_log(srv, "reloaded: 3 clients")
        assert from_source(srv, "127.0.0.3") is not None
        assert from_source(srv, "127.0.0.5") is not None
        assert srv.process.pid == pid and srv.process.poll() is None
        # A broken configuration is refused and the running one kept.
        srv.config.write_text("radius: {clients: [{name: x}]}\n")
        srv.signal(signal.SIGHUP)
        wait_for_log(srv, "reload refused")
        assert from_source(srv, "127.0.0.5") is not None


def test_ipv6(tmp_path: Path) -> None:
    with running_radiusd(tmp_path, users={"alice": "pw"}, host="::1") as srv:
        reply = ask(srv.host, srv.auth_port, access_request(SECRET, "alice", "wrong"), 5.0)
        assert reply is not None and reply.code == codec.ACCESS_REJECT
        assert "[::1]" not in srv.log() and "::1:" in srv.log()


def test_serve_refuses_an_outdated_schema_with_the_command_to_run(tmp_path: Path) -> None:
    config = write_config(tmp_path / "radiusd.yaml", base_config(tmp_path))
    (tmp_path / "data").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "radiusd",
            "-c",
            str(config),
            "serve",
            "--address",
            "127.0.0.1",
            "--auth-port",
            str(free_port()),
            "--acct-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "radiusd db upgrade" in result.stderr
    assert len([ln for ln in result.stderr.splitlines() if ln.startswith(("Error", "error"))]) == 1


def test_serve_help_and_bad_address(tmp_path: Path) -> None:
    config = write_config(tmp_path / "radiusd.yaml", base_config(tmp_path))
    assert "--workers" in cli(config, "serve", "--help").stdout
    result = subprocess.run(
        [sys.executable, "-m", "radiusd", "-c", str(config), "serve", "--address", "nowhere"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "not an IP address" in result.stderr
