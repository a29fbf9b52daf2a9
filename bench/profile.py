"""Sampling profiles of one radiusd worker with py-spy, summarised by where the time goes.

Two views: `gil` samples only the thread holding the GIL (what limits one worker: its Python is
single-file through the GIL whichever thread runs it), `wall` samples every thread that is not idle.
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Checked in this order against the whole stack: the first that matches takes the sample.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("audit", ("engine/audit.py",)),
    ("codec (pyrad, codec, translate)", ("pyrad/", "radius/codec.py", "radius/translate.py")),
    (
        "cryptography (HOTP/HMAC, AES-GCM seed)",
        ("pyotp/", "hmac.py", "keyring.py", "cryptography/", "factors/hotp.py"),
    ),
    ("store: lockout gate/success/failure", ("engine/lockout.py",)),
    ("store: load user, consume code", ("store/auth.py",)),
    ("store: other", ("sqlalchemy/", "sqlite3/", "psycopg/", "store/")),
    ("event loop (asyncio)", ("asyncio/", "selectors.py")),
    ("thread hand-off (executor, futures)", ("concurrent/futures/", "threading.py", "queue.py")),
    ("engine, rules, server (other radiusd)", ("radiusd/",)),
]


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found


def record(pid: int, out: Path, duration: float, gil: bool) -> subprocess.Popen[bytes]:
    command = [py_spy(), "record", "-p", str(pid), "-r", "200", "-d", str(int(duration)), "-f", "raw"]
    command += ["-o", str(out), "--nonblocking"]
    if gil:
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _file(frame: str) -> str:
    # "function (path/to/file.py:123)"
    return frame.rsplit("(", 1)[-1].rstrip(")") if "(" in frame else frame


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"


def _counted(path: str) -> bool:
    """Frames worth an inclusive figure: radiusd's own (less the start-up chain) and SQLAlchemy."""
    if any(m in path for m in ("radiusd/cli/", "radiusd/__main__", "radius/service.py", "radius/workers.py")):
        return False
    return "radiusd/" in path or "sqlalchemy/" in path


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Shares of samples by category, and the top functions by self and inclusive time."""
    total = 0
    categories: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if f]
        if frames:
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        files = [_file(f) for f in frames]
        for name, markers in CATEGORIES:
            if any(m in f for f in files for m in markers):
                categories[name] += count
                break
        else:
            categories["other (interpreter, stdlib)"] += count
        own[_short(frames[-1])] += count
        for f in {_short(f) for f in frames if _counted(_file(f))}:
            inclusive[f] += count

    def share(counter: collections.Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / max(total, 1), 1)) for k, v in counter.most_common(n)]

    return {
        "samples": total,
        "categories_pct": share(categories, 20),
        "top_self_pct": share(own, top),
        "top_inclusive_pct": share(inclusive, top),
    }
