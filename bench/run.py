"""The benchmark: FreeRADIUS and radiusd side by side, one run, one machine.

    .venv/bin/python -m bench.run            # the full run (about 40 minutes, most of it building
                                             # the million-user stores)
    .venv/bin/python -m bench.run --quick    # a short subset (about 3 minutes)

See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import challenge, costs, population, profile, servers
from bench.packets import (
    SOCKETS,
    access_request,
    check_against_pyrad,
    hotp,
    identifier,
    source_address,
    write_file,
)
from bench.population import PASSWORD, SECRET, Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
STRIDE = 7919
"""Users are visited in the order i * STRIDE mod N (a prime, so every user once per N requests,
spread over the whole table)."""
TOTP_USERS, EMAIL_USERS = 3000, 2000


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.loadgen = workdir / "loadgen"
        self.sources = 0
        self.cursors: dict[tuple[str, str], int] = {}
        self.sink = challenge.Sink()
        self.results: dict[str, Any] = {}
        self.stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M")
        """Names this run's files in bench/results/."""

    # -- helpers ---------------------------------------------------------------------------------

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def next_sources(self, n: int) -> list[int]:
        first, self.sources = self.sources, self.sources + n
        return list(range(first, first + n))

    def cursor(self, store: Store, kind: str, n: int, size: int) -> list[int]:
        start = self.cursors.get((store.name, kind), 0)
        self.cursors[(store.name, kind)] = start + n
        return [((start + k) * STRIDE) % size for k in range(n)]

    def build_loadgen(self) -> None:
        subprocess.run(["gcc", "-O2", "-Wall", "-o", str(self.loadgen), str(HERE / "loadgen.c")], check=True)

    def drive(
        self,
        server: servers.Server,
        packets: list[bytes],
        *,
        window: int = 128,
        rate: float = 0.0,
        duration: float = 10.0,
        timeout: float = 10.0,
        store_pids: list[int] | None = None,
        timeline: Path | None = None,
    ) -> dict[str, Any]:
        path = self.workdir / "requests.bin"
        write_file(path, packets)
        pids = server.pids
        before, store_before = servers.cpu_seconds(pids), servers.cpu_seconds(store_pids or [])
        steal_before = servers.steal_seconds()
        command = [str(self.loadgen), "-p", str(server.port), "-f", str(path), "-w", str(window)]
        command += ["-r", str(rate), "-d", str(duration), "-t", str(timeout), "-s", str(SOCKETS)]
        if timeline is not None:
            command += ["-l", str(timeline)]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        result: dict[str, Any] = json.loads(out)
        cpu = servers.cpu_seconds(pids) - before
        answered = max(result["answered"], 1)
        result["server_cpu_s"] = round(cpu, 2)
        result["cpu_ms_per_req"] = round(cpu * 1000 / answered, 3)
        result["server_cores_busy"] = round(cpu / max(result["elapsed"], 0.001), 2)
        result["machine_steal_s"] = round(servers.steal_seconds() - steal_before, 2)
        if store_pids:
            store_cpu = servers.cpu_seconds(store_pids) - store_before
            result["store_cpu_ms_per_req"] = round(store_cpu * 1000 / answered, 3)
        return result

    # -- request builders --------------------------------------------------------------------------

    def hotp_requests(
        self, store: Store, n: int, size: int, wrong: bool = False
    ) -> tuple[list[bytes], list[int]]:
        """Workload (a) (the next unused code of each user) or (b) (a wrong code)."""
        secret = SECRET.encode()
        users = self.cursor(store, "b" if wrong else "a", n, size)
        sources = self.next_sources(n)
        packets = []
        for i, (u, src) in enumerate(zip(users, sources, strict=True)):
            counter = store.next_counter[u]
            code = hotp(population.hotp_seed(u), counter)
            if wrong:
                code = str((int(code[0]) + 1) % 10) + code[1:]
            else:
                store.next_counter[u] = counter + 1
            packets.append(
                access_request(identifier(i), secret, population.hotp_user(u), code, source_address(src))
            )
        return packets, ([] if wrong else users)

    @staticmethod
    def unsend(store: Store, users: list[int], sent: int) -> None:
        """Codes built but never sent stay unused: give them back (the unsent part is a suffix)."""
        for u in reversed(users[sent:]):
            store.next_counter[u] -= 1

    def totp_requests(self, store: Store, n: int) -> list[bytes]:
        """Workload (c): password + current TOTP code, each user once."""
        secret = SECRET.encode()
        step = int(time.time() // 30)
        users = [(self.cursors.get((store.name, "c"), 0) + k) % store.totp_users for k in range(n)]
        self.cursors[(store.name, "c")] = self.cursors.get((store.name, "c"), 0) + n
        return [
            access_request(
                identifier(i),
                secret,
                population.totp_user(u),
                PASSWORD + hotp(population.totp_seed(u), step),
                source_address(src),
            )
            for i, (u, src) in enumerate(zip(users, self.next_sources(n), strict=True))
        ]

    # -- the reference -------------------------------------------------------------------------------

    def freeradius(self) -> dict[str, Any]:
        a = self.args
        server = servers.start_freeradius(self.workdir / "freeradius")
        try:
            self.log(f"FreeRADIUS {servers.freeradius_version()} on port {server.port}")
            secret = SECRET.encode()

            def pap(n: int) -> list[bytes]:
                user = servers.FREERADIUS_USER
                return [
                    access_request(identifier(i), secret, user, PASSWORD, source_address(s))
                    for i, s in enumerate(self.next_sources(n))
                ]

            self.drive(server, pap(5000), duration=2)  # warm-up
            peak = self.drive(server, pap(int(a.duration * 45_000)), duration=a.duration)
            self.log(
                f"  FreeRADIUS peak {peak['rps']:.0f} req/s p50 {peak['p50_ms']} ms p99 {peak['p99_ms']} ms"
            )
            rate = round(peak["rps"] / 2)
            half = self.drive(
                server, pap(int(a.duration * rate) + 10), rate=rate, window=3000, duration=a.duration
            )
            self.log(f"  FreeRADIUS at {rate} req/s: p50 {half['p50_ms']} ms p99 {half['p99_ms']} ms")
            check = self.radclient(server, int(min(peak["rps"], 30_000) * a.duration / 3))
            self.log(f"  radclient -p 128: {check['rps']:.0f} req/s ({check['approved']} approved)")
            return {
                "version": servers.freeradius_version(),
                "startup_s": round(server.startup_seconds, 3),
                "rss_mib": round(servers.rss_mib(server.process.pid), 1),
                "peak": peak,
                "half_peak": half,
                "radclient": check,
            }
        finally:
            server.stop()

    def radclient(self, server: servers.Server, total: int) -> dict[str, Any]:
        """The same PAP request through radclient in parallel mode: checks loadgen's figure."""
        parallel = 128  # radclient loses packets and stalls on its retries beyond this
        request = f'User-Name = "{servers.FREERADIUS_USER}", User-Password = "{PASSWORD}", '
        request += "Message-Authenticator = 0x00\n"
        path = self.workdir / "radclient.txt"
        path.write_text("\n".join([request] * parallel))
        repeat = max(total // parallel, 1)
        command = ["radclient", "-q", "-s", "-c", str(repeat), "-p", str(parallel), "-t", "2", "-r", "1"]
        command += ["-f", str(path), f"127.0.0.1:{server.port}", "auth", SECRET]
        before = servers.cpu_seconds(server.pids)
        started = time.perf_counter()
        out = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        cpu = servers.cpu_seconds(server.pids) - before
        approved = sum(
            int(line.split(":")[1]) for line in (out.stdout + out.stderr).splitlines() if "Accepted" in line
        )
        return {
            "requests": repeat * parallel,
            "approved": approved,
            "elapsed": round(elapsed, 3),
            "rps": round(approved / elapsed, 1),
            "cpu_ms_per_req": round(cpu * 1000 / max(approved, 1), 3),
            "parallel": parallel,
        }

    # -- radiusd -------------------------------------------------------------------------------------

    def make_store(self, backend: str) -> Store:
        config = self.workdir / f"radiusd-{backend}.yaml"
        data = self.workdir / f"data-{backend}"
        if backend == "sqlite":
            url = f"sqlite:///{data}/radiusd.db"
        else:
            url = population.create_postgres_database(f"radiusd_bench_{os.getpid()}", PG_ADMIN)
        population.write_config(config, data, url, self.sink.port)
        store = Store(backend, config, url)
        population.init_store(store)
        return store

    def start(self, store: Store, workers: int) -> tuple[servers.Server, dict[str, Any]]:
        log = self.workdir / f"radiusd-{store.name}-w{workers}.log"
        server = servers.start_radiusd(store.config_path, workers, log)
        info = {"startup_s": round(server.startup_seconds, 3)}
        # Warm-up: pools, connections and the first audit batch, not measured.
        packets, users = self.hotp_requests(store, 600, store.hotp_users)
        result = self.drive(server, packets, duration=5)
        self.unsend(store, users, result["sent"])
        info["rss_mib_per_worker"] = [round(servers.rss_mib(p), 1) for p in server.pids]
        return server, info

    def store_pids(self, store: Store) -> list[int]:
        return [] if store.is_sqlite else servers.postgres_backend_pids(store.url)

    def workload_a(
        self, store: Store, server: servers.Server, size: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Peak (closed loop), then an open-loop run at half the peak rate for the latency target."""
        d = self.args.duration
        packets, users = self.hotp_requests(store, int(d * self.args.cap), size)
        peak = self.drive(server, packets, duration=d, store_pids=self.store_pids(store))
        self.unsend(store, users, peak["sent"])
        rate = max(round(peak["rps"] / 2), 1)
        packets, users = self.hotp_requests(store, int(d * rate) + 10, size)
        name = f"timeline-{store.name}-w{len(server.pids)}-{size}"
        timeline = self.workdir / f"{name}.txt"
        for n in itertools.count(2):  # a later run of the same kind (the scale runs) keeps both
            if not timeline.exists():
                break
            timeline = self.workdir / f"{name}-{n}.txt"
        half = self.drive(
            server,
            packets,
            rate=rate,
            window=3000,
            duration=d,
            store_pids=self.store_pids(store),
            timeline=timeline,  # kept with --keep: when each request went out, and its latency
        )
        self.unsend(store, users, half["sent"])
        return peak, half

    def matrix(self, store: Store, workers: int) -> dict[str, Any]:
        a = self.args
        server, info = self.start(store, workers)
        label = f"{store.name} --workers {workers}"
        try:
            run: dict[str, Any] = {
                "backend": store.name,
                "workers": workers,
                "users": store.hotp_users,
                **info,
            }
            run["a"], run["a_half_peak"] = self.workload_a(store, server, store.hotp_users)
            self.log(
                f"  {label} (a) {run['a']['rps']:.0f} req/s, cpu {run['a']['cpu_ms_per_req']} ms/req; "
                f"at {run['a_half_peak']['rate']:.0f} req/s p99 {run['a_half_peak']['p99_ms']} ms"
            )
            n = min(int(a.duration * a.cap), store.hotp_users)
            packets, _ = self.hotp_requests(store, n, store.hotp_users, wrong=True)
            run["b"] = self.drive(server, packets, duration=a.duration, store_pids=self.store_pids(store))
            self.log(f"  {label} (b) {run['b']['rps']:.0f} req/s, cpu {run['b']['cpu_ms_per_req']} ms/req")
            if not a.skip_password:
                packets = self.totp_requests(store, int(a.password_duration * 80))
                run["c"] = self.drive(
                    server,
                    packets,
                    window=16,
                    duration=a.password_duration,
                    store_pids=self.store_pids(store),
                )
                self.log(f"  {label} (c) {run['c']['rps']:.1f} req/s p50 {run['c']['p50_ms']} ms")
                users = [
                    (self.cursors.get((store.name, "d"), 0) + k) % store.email_users for k in range(5000)
                ]
                self.cursors[(store.name, "d")] = self.cursors.get((store.name, "d"), 0) + 5000
                before = servers.cpu_seconds(server.pids)
                run["d"] = challenge.run(
                    self.sink, server.port, users, self.next_sources(5000), 8, a.password_duration
                )
                cpu = servers.cpu_seconds(server.pids) - before
                run["d"]["cpu_ms_per_login"] = round(cpu * 1000 / max(run["d"]["logins"], 1), 3)
                self.log(f"  {label} (d) {run['d']['logins_per_s']} logins/s p50 {run['d']['p50_ms']} ms")
            if a.profile and store.name == "sqlite" and workers == 1:
                run["profile"] = self.profile(store, server)
            run["rss_mib_per_worker_after"] = [round(servers.rss_mib(p), 1) for p in server.pids]
            return run
        finally:
            server.stop()

    def profile(self, store: Store, server: servers.Server) -> dict[str, Any]:
        d = self.args.duration
        out: dict[str, Any] = {}
        for mode in ("gil", "wall"):
            raw = RESULTS / f"{self.stamp}-profile-a-{mode}.txt"
            packets, users = self.hotp_requests(store, int(d * self.args.cap), store.hotp_users)
            spy = profile.record(server.pids[0], raw, d, gil=mode == "gil")
            result = self.drive(server, packets, duration=d)
            spy.wait()
            self.unsend(store, users, result["sent"])
            out[mode] = {"load": result, **profile.summarise(raw)}
            self.log(f"  profile ({mode}) written to {raw.relative_to(HERE.parent)}")
        return out

    def scale(self, store: Store, size: int) -> dict[str, Any]:
        grew = population.grow(store, size)
        server, info = self.start(store, 2)
        try:
            peak, half = self.workload_a(store, server, size)
            entry = {
                "backend": store.name,
                "users": size,
                "grow_s": round(grew, 1),
                **info,
                "a": peak,
                "a_half_peak": half,
            }
            entry["rss_mib_per_worker_after"] = [round(servers.rss_mib(p), 1) for p in server.pids]
            self.log(
                f"  {store.name} {size:,} users: (a) {peak['rps']:.0f} req/s, "
                f"p99 at half peak {half['p99_ms']} ms, "
                f"start-up {info['startup_s']} s, RSS {info['rss_mib_per_worker']} MiB"
            )
            return entry
        finally:
            server.stop()

    # -- the whole run ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        a = self.args
        self.build_loadgen()
        check_against_pyrad()
        self.sink.start()
        res = self.results
        res.update(machine(), settings=vars(a).copy())
        res["load_before"] = os.getloadavg()
        res["freeradius"] = self.freeradius()
        res["radiusd"], res["scale"] = [], []
        for backend in a.backends:
            self.log(
                f"radiusd on {backend}: {a.scale[0]:,} HOTP users, {TOTP_USERS} TOTP, {EMAIL_USERS} email"
            )
            store = self.make_store(backend)
            try:
                grew = population.grow(store, a.scale[0], TOTP_USERS, EMAIL_USERS)
                self.log(f"  store filled in {grew:.1f} s")
                for workers in a.workers:
                    res["radiusd"].append(self.matrix(store, workers))
                if backend in a.scale_backends:
                    for size in a.scale:
                        res["scale"].append(self.scale(store, size))
                res.setdefault("rows", {})[backend] = population.row_counts(store)
            finally:
                if not store.is_sqlite:
                    population.drop_postgres_database(store.url.rsplit("/", 1)[1], PG_ADMIN)
        if a.costs:
            self.log("step costs (bench.costs)")
            res["step_costs_us"] = costs.measure(10_000)
        res["load_after"] = os.getloadavg()
        res["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.sink.stop()
        return res


def machine() -> dict[str, Any]:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], capture_output=True, text=True, cwd=HERE.parent).stdout.strip()

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")
    )
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "radiusd")),
        "machine": {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "memory_gib": round(int(mem) / 1024**2, 1),
            "kernel": platform.release(),
            "python": platform.python_version(),
        },
    }


def summary(res: dict[str, Any]) -> str:
    fr = res["freeradius"]["peak"]
    lines = [
        f"machine: {res['machine']['cpu']}, {res['machine']['cores']} cores; commit {res['commit'][:12]}; "
        f"load average before {res['load_before'][0]:.2f}, after {res['load_after'][0]:.2f}",
        "",
        f"{'server':<28}{'workload':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>11}{'ratio':>8}"
        f"{'cores':>7}",
        f"{'FreeRADIUS ' + res['freeradius']['version']:<28}{'PAP (users file)':<24}{fr['rps']:>9.0f}"
        f"{fr['p50_ms']:>9.2f}{fr['p99_ms']:>9.2f}{fr['cpu_ms_per_req']:>11.3f}{1:>8.3f}"
        f"{fr['server_cores_busy']:>7.2f}",
    ]
    names = {"a": "(a) code only, accept", "a_half_peak": "(a) at half peak", "b": "(b) wrong code",
             "c": "(c) argon2id + TOTP"}  # fmt: skip
    for run in res["radiusd"]:
        who = f"radiusd {run['backend']} w{run['workers']}"
        for key, name in names.items():
            if key not in run:
                continue
            r = run[key]
            ratio = f"{r['rps'] / fr['rps']:.3f}" if key in ("a", "b") else ""
            lines.append(
                f"{who:<28}{name:<24}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                f"{r['cpu_ms_per_req']:>11.3f}{ratio:>8}{r['server_cores_busy']:>7.2f}"
            )
        if "d" in run:
            d = run["d"]
            lines.append(
                f"{who:<28}{'(d) email, logins/s':<24}{d['logins_per_s']:>9.1f}{d['p50_ms']:>9.2f}"
                f"{d['p99_ms']:>9.2f}{d['cpu_ms_per_login']:>11.3f}"
            )
    if res["scale"]:
        lines += [
            "",
            f"{'scale (workload a, --workers 2)':<36}{'req/s':>9}{'p99 ms @half':>13}{'start s':>9}"
            "  RSS MiB/worker",
        ]
        for s in res["scale"]:
            lines.append(
                f"{s['backend'] + ' ' + format(s['users'], ','):<36}{s['a']['rps']:>9.0f}"
                f"{s['a_half_peak']['p99_ms']:>13.2f}{s['startup_s']:>9.2f}  {s['rss_mib_per_worker']}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short subset: SQLite, 10,000 users, 3 s runs")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--scale", default="10000,100000,1000000", help="store sizes (HOTP users)")
    p.add_argument("--scale-backends", default="sqlite,postgresql")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per load run")
    p.add_argument("--password-duration", type=float, default=10.0, help="seconds for (c) and (d)")
    p.add_argument("--cap", type=int, default=6000, help="most requests per second radiusd is sent")
    p.add_argument("--skip-password", action="store_true", help="skip workloads (c) and (d)")
    p.add_argument("--no-profile", dest="profile", action="store_false")
    p.add_argument("--no-costs", dest="costs", action="store_false", help="skip bench.costs at the end")
    p.add_argument("--out", type=Path, help="result file (default bench/results/<date>.json)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = p.parse_args(argv)
    if a.quick:
        a.backends, a.workers, a.scale, a.scale_backends = "sqlite", "2", "10000", ""
        a.duration, a.password_duration = min(a.duration, 3.0), min(a.password_duration, 3.0)
        a.profile = a.costs = False
    a.backends = [b for b in a.backends.split(",") if b]
    a.scale_backends = [b for b in a.scale_backends.split(",") if b]
    a.workers = [int(w) for w in a.workers.split(",")]
    a.scale = [int(s) for s in a.scale.split(",")]
    if not shutil.which("radclient") or not Path(servers.FREERADIUS).exists():
        sys.exit("needs FreeRADIUS and radclient: apt-get install freeradius freeradius-utils")
    RESULTS.mkdir(exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="radiusd-bench-"))
    bench = Bench(a, workdir)
    try:
        res = bench.run()
    finally:
        if not a.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    name = "quick" if a.quick else bench.stamp
    out = a.out or RESULTS / f"{name}.json"
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print()
    print(summary(res))
    print(f"\nresults: {out}")
    if not a.quick:
        from bench import plot

        png = plot.draw(res, RESULTS / f"{bench.stamp}.png")
        print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
