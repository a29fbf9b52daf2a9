"""The README's quickstart, run command for command from the fenced block under "## Quickstart".

The commands are the README's own; the test only substitutes what a reader supplies or what must
differ on a shared machine: the codes the authenticator app would show (123456, then the newer
654321, computed here from the otpauth:// URI that `token add` printed), the RADIUS ports (free
ones instead of 1812/1813) and cheap argon2 parameters in the copied configuration.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import helpers
import pyotp
import yaml

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README.md: no ```sh block under ## Quickstart"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


# What each command must print (stdout), by the start of the command.
EXPECTED = {
    "radiusd init": r"key file .*\(created\)",
    "echo 'a-long-shared-secret' | radiusd client add": r"client vpn added for 127\.0\.0\.1/32",
    "echo 'correct horse battery staple' | radiusd user add": r"user alice added",
    "radiusd token add": r"otpauth://totp/",
    "echo 'correct horse battery staple,123456' | radiusd check": r"decision\s+accept",
    'echo "User-Name=alice': r"Received Access-Accept",
}


def _prepare(tmp_path: Path) -> tuple[Path, int]:
    """A copy of conf/radiusd.yaml in a scratch checkout layout: conf/ here, data/ beside it."""
    config = yaml.safe_load((ROOT / "conf" / "radiusd.yaml").read_text())
    auth_port = helpers.free_port()
    config["radius"] |= {"auth_port": auth_port, "acct_port": helpers.free_port()}
    config["backends"]["local"] |= {"time_cost": 1, "memory_cost": 8}
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "radiusd.yaml").write_text(yaml.safe_dump(config))
    return tmp_path, auth_port


def test_readme_quickstart(tmp_path: Path) -> None:
    commands = quickstart_commands()
    assert any(c.startswith("radiusd serve") for c in commands)
    helpers.require_program("radclient")
    workdir, auth_port = _prepare(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RADIUSD_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    totp: pyotp.TOTP | None = None
    first_step = 0
    server: subprocess.Popen[bytes] | None = None
    server_log = tmp_path / "serve.log"
    try:
        for command in commands:
            if command.startswith("export "):
                name, _, value = command.removeprefix("export ").partition("=")
                env[name] = value
                continue
            if command == "kill %1":
                assert server is not None, "kill %1 without a server started"
                server.terminate()
                assert server.wait(timeout=30) == 0, server_log.read_text()
                server = None
                continue
            shell = command
            if "123456" in shell or "654321" in shell:
                assert totp is not None, "a code is typed before a token was added"
                shell = shell.replace("123456", totp.at(first_step * totp.interval))
                shell = shell.replace("654321", totp.at((first_step + 1) * totp.interval))
            shell = shell.replace("127.0.0.1 auth", f"127.0.0.1:{auth_port} auth")
            if shell.endswith(" &"):
                server = subprocess.Popen(
                    ["bash", "-c", shell.removesuffix(" &")],
                    cwd=workdir,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=server_log.open("wb"),
                )
                _wait_until_serving(server, server_log)
                continue
            result = subprocess.run(
                ["bash", "-c", shell], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
            )
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            expected = next((v for k, v in EXPECTED.items() if command.startswith(k)), None)
            assert expected is not None, f"no expected output for README command: {command}"
            assert re.search(expected, result.stdout), f"{command}\n{result.stdout}\n{result.stderr}"
            if command.startswith("radiusd token add"):
                uri = re.search(r"otpauth://\S+", result.stdout)
                assert uri is not None
                parsed = pyotp.parse_uri(uri.group())
                assert isinstance(parsed, pyotp.TOTP)
                totp, first_step = parsed, int(time.time() // parsed.interval)
    finally:
        if server is not None:
            server.kill()
            server.wait()
    assert (workdir / "data" / "keys.json").exists()  # data_dir ../data: beside conf/, as in a checkout


def _wait_until_serving(server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while "serving RADIUS" not in log.read_text():
        assert server.poll() is None, f"radiusd serve exited: {log.read_text()}"
        assert time.monotonic() < deadline, f"radiusd serve did not start: {log.read_text()}"
        time.sleep(0.1)
