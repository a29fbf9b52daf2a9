"""Bad configuration is reported as `FILE: key.path: reason` with exit code 2, before anything is
written or bound: `radiusd init` creates no data directory, `radiusd serve` opens no socket."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from radiusd.config import ConfigError, load

RADIUSD = str(Path(sys.executable).with_name("radiusd"))
CLIENT = {"name": "vpn", "address": "192.0.2.1", "secret": "a-long-shared-secret"}

BAD = {
    "unknown key": ({"radius": {"auth_prot": 1812}}, "radius.auth_prot: unknown key"),
    "bad CIDR": (
        {"radius": {"clients": [CLIENT | {"address": "10.0.0.0/33"}]}},
        "radius.clients[0].address: not an IP address or CIDR network: '10.0.0.0/33'",
    ),
    "wrong type": (
        {"radius": {"auth_port": "radius"}},
        "radius.auth_port: Input should be a valid integer, unable to parse string as an integer",
    ),
    "missing secret file": (
        {"radius": {"clients": [CLIENT | {"secret": {"file": "missing-secret.txt"}}]}},
        "radius.clients[0].secret: cannot read secret file {dir}/missing-secret.txt: "
        "No such file or directory",
    ),
}


def _write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"data_dir": "data", **data}))
    return path


@pytest.mark.parametrize("command", [["init"], ["serve", "--auth-port", "0", "--acct-port", "0"]])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_configuration_exits_2_before_anything_happens(
    tmp_path: Path, case: str, command: list[str]
) -> None:
    data, reason = BAD[case]
    path = _write(tmp_path, data)
    result = subprocess.run([RADIUSD, "-c", str(path), *command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"{path}: {reason.format(dir=tmp_path)}"]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing written, so nothing started either


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, {"radius": {"auth_prot": 1, "acct_port": -1}, "log": {"level": "loud"}})
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [line.split(": ")[1] for line in info.value.lines] == [
        "log.level",
        "radius.acct_port",
        "radius.auth_prot",
    ]


def test_secrets_inline_from_a_file_and_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "nas.txt").write_text("secret-from-a-file\n")
    monkeypatch.setenv("RADIUSD_TEST_SECRET", "secret-from-the-environment")
    clients = [
        CLIENT | {"name": "inline", "secret": "secret-inline"},
        CLIENT | {"name": "file", "secret": {"file": "secrets/nas.txt"}},  # relative to the file's folder
        CLIENT | {"name": "env", "secret": {"env": "RADIUSD_TEST_SECRET"}},
    ]
    config = load(_write(tmp_path, {"radius": {"clients": clients}}))
    assert [c.secret for c in config.radius.clients] == [
        "secret-inline",
        "secret-from-a-file",
        "secret-from-the-environment",
    ]
    assert "secret-inline" not in config.model_dump_json()  # secrets never print

    monkeypatch.delenv("RADIUSD_TEST_SECRET")
    with pytest.raises(ConfigError) as info:
        load(_write(tmp_path, {"radius": {"clients": clients[2:]}}))
    assert info.value.lines == [
        f"{tmp_path / 'bad.yaml'}: radius.clients[0].secret: "
        "environment variable RADIUSD_TEST_SECRET is not set or empty"
    ]
