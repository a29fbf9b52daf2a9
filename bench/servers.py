"""The servers under test: FreeRADIUS (the reference) and `radiusd serve`, with their processes'
CPU time and memory read from /proc."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.packets import status_server
from bench.population import PASSWORD, SECRET

TICK = os.sysconf("SC_CLK_TCK")
FREERADIUS = "/usr/sbin/freeradius"
FREERADIUS_USER = "bench"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICK


def steal_seconds() -> float:
    """CPU time the hypervisor gave to other guests while this machine wanted it (all CPUs, from
    /proc/stat): a run that lost some of its cores' time this way says so in its result."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (
        int(fields[8]) / TICK if len(fields) > 8 else 0.0
    )  # cpu user nice system idle iowait irq softirq steal


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def answers_status(port: int, secret: bytes, timeout: float = 0.2) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(status_server(1, secret), ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:
            return False
    return len(data) >= 20 and data[0] == 2


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    pids: list[int] = field(default_factory=list)
    """The processes that answer requests (workers), whose CPU time is counted."""
    startup_seconds: float = 0.0

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


# -- FreeRADIUS ------------------------------------------------------------------------------------

FREERADIUS_CONF = """\
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = {dir}
sbindir = /usr/sbin
logdir = {dir}
raddbdir = {dir}
radacctdir = {dir}
name = freeradius
confdir = {dir}
modconfdir = {dir}
run_dir = {dir}
db_dir = {dir}
libdir = /usr/lib/freeradius
pidfile = {dir}/freeradius.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 1048576
hostname_lookups = no
log {{
  destination = stderr
  auth = no
}}
security {{
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}}
thread pool {{
  start_servers = 8
  max_servers = 32
  min_spare_servers = 3
  max_spare_servers = 16
  max_requests_per_server = 0
  auto_limit_acct = no
}}
client bench {{
  ipaddr = 127.0.0.1
  secret = {secret}
  require_message_authenticator = yes
}}
modules {{
  pap {{
    normalise = yes
  }}
  files {{
    filename = {dir}/users
  }}
}}
server default {{
  listen {{
    type = auth
    ipaddr = 127.0.0.1
    port = {port}
  }}
  authorize {{
    files
    pap
  }}
  authenticate {{
    Auth-Type PAP {{
      pap
    }}
  }}
}}
"""


def freeradius_version() -> str:
    out = subprocess.run([FREERADIUS, "-v"], capture_output=True, text=True).stdout
    m = re.search(r"Version (\S+)", out)
    return m.group(1).rstrip(",") if m else "unknown"


def start_freeradius(workdir: Path) -> Server:
    """FreeRADIUS with its own configuration directory: PAP for one users-file user, the client
    required to sign every Access-Request with a Message-Authenticator."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "radiusd.conf").write_text(FREERADIUS_CONF.format(dir=workdir, secret=SECRET, port=port))
    (workdir / "users").write_text(f'{FREERADIUS_USER}  Cleartext-Password := "{PASSWORD}"\n')
    check = subprocess.run([FREERADIUS, "-C", "-d", str(workdir)], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"FreeRADIUS refuses the configuration:\n{check.stdout}{check.stderr}")
    log_path = workdir / "freeradius.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen([FREERADIUS, "-f", "-d", str(workdir)], stdout=log, stderr=log)
    server = Server("freeradius", process, port, log_path, [process.pid])
    _wait_ready(server, lambda: True)
    server.startup_seconds = time.monotonic() - started
    return server


# -- radiusd -------------------------------------------------------------------------------------


def start_radiusd(config_path: Path, workers: int, log_path: Path) -> Server:
    port, acct = free_port(), free_port()
    command = [sys.executable, "-m", "radiusd", "-c", str(config_path), "serve", "--address", "127.0.0.1"]
    command += ["--auth-port", str(port), "--acct-port", str(acct), "--workers", str(workers)]
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"radiusd-w{workers}", process, port, log_path)

    def serving() -> bool:
        server.pids = [int(p) for p in re.findall(r"serving RADIUS on .* \(pid (\d+)\)", server.log())]
        return len(server.pids) >= workers

    _wait_ready(server, serving)
    server.startup_seconds = time.monotonic() - started
    return server


def _wait_ready(server: Server, ready, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited ({server.process.returncode}):\n{server.log()[-4000:]}")
        if ready() and answers_status(server.port, SECRET.encode()):
            return
        time.sleep(0.02)
    server.stop()
    raise RuntimeError(f"{server.name} did not answer Status-Server:\n{server.log()[-4000:]}")


def postgres_backend_pids(url: str) -> list[int]:
    """The PostgreSQL server processes serving this database (their CPU is the store's cost)."""
    from sqlalchemy import create_engine, text

    name = url.rsplit("/", 1)[1]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": name},
            ).all()
    finally:
        engine.dispose()
    return [int(r[0]) for r in rows]
