"""SIGHUP: after a reload the Jira front doors decide with the new engine (new rules)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from crowd_harness import APP, APP_PASSWORD, login, setup_store
from helpers import free_port, write_config


def test_sighup_gives_the_crowd_directory_the_new_rules(tmp_path: Path) -> None:
    port = free_port(socket.SOCK_STREAM)
    config = setup_store(tmp_path)  # alice: local password + TOTP
    data = yaml.safe_load(config.read_text())
    data["crowd"]["port"] = port
    data["radius"] = {"addresses": ["127.0.0.1"], "auth_port": 0, "acct_port": 0}
    write_config(config, data)
    radiusd = Path(sys.executable).with_name("radiusd")
    log = (tmp_path / "serve.err").open("wb")
    process = subprocess.Popen([str(radiusd), "-c", str(config), "serve"], stderr=log)
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/rest/usermanagement/1",
        headers={"Accept": "application/xml", "Content-Type": "application/xml; charset=UTF-8"},
        auth=(APP, APP_PASSWORD),
        timeout=10,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                before = login(client, "alice", "alice-password")
                break
            except httpx.ConnectError:
                assert process.poll() is None, (tmp_path / "serve.err").read_text()
                assert time.monotonic() < deadline, "radiusd serve did not open the Crowd port"
                time.sleep(0.1)
        assert before.status_code == 400  # the password alone: the code is required

        data["rules"] = [{"name": "jira-password-only", "action": "skip", "match": {"clients": [APP]}}]
        write_config(config, data)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (after := login(client, "alice", "alice-password")).status_code != 200:
            assert time.monotonic() < deadline, f"still {after.status_code} after the reload"
            time.sleep(0.1)
        # The retired engine is closed; the new one keeps serving.
        time.sleep(0.3)
        assert login(client, "alice", "alice-password").status_code == 200
        assert login(client, "alice", "wrong-password").status_code == 400
        assert process.poll() is None
    finally:
        client.close()
        process.terminate()
        assert process.wait(10) == 0
        log.close()
    assert "reloaded" in (tmp_path / "serve.err").read_text()
