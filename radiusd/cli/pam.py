"""`radiusd pam install`: build pam_radiusd.so, put it where PAM looks, print the configuration
the host needs (the helper's pam.yaml, an /etc/pam.d/ service, the sshd_config lines)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from radiusd.cli.main import UsageError

SOURCE_DIR = Path(__file__).resolve().parent.parent / "pamclient" / "pam_module"
MODULE_NAME = "pam_radiusd.so"
# Where distributions keep PAM modules; the first that holds pam_unix.so wins.
SECURITY_DIRS = (
    "/usr/lib/*-linux-gnu*/security",
    "/lib/*-linux-gnu*/security",
    "/usr/lib64/security",
    "/lib64/security",
    "/usr/lib/security",
    "/lib/security",
)
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+-]+$")


def security_dir() -> Path:
    for pattern in SECURITY_DIRS:
        for candidate in sorted(Path("/").glob(pattern.lstrip("/"))):
            if (candidate / "pam_unix.so").exists():
                return Path("/") / candidate.relative_to("/")
    raise UsageError("cannot find the PAM module directory (no pam_unix.so under /lib or /usr/lib)")


def build_module(python: Path, target: Path) -> None:
    """Compile with the helper's interpreter built in; replace the target atomically, so a running
    sshd never loads half a file."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise UsageError("no C compiler: install gcc and libpam0g-dev (apt-get install gcc libpam0g-dev)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".pam_radiusd.", suffix=".so", dir=target.parent)
    os.close(fd)
    command = [
        compiler,
        "-O2",
        "-Wall",
        "-fPIC",
        "-shared",
        f'-DRADIUSD_PYTHON="{python}"',
        "-o",
        tmp,
        str(SOURCE_DIR / "pam_radiusd.c"),
        "-lpam",
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
            raise UsageError(f"cannot build {MODULE_NAME}: {first} (are gcc and libpam0g-dev installed?)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def example(name: str, **values: str) -> str:
    text = (SOURCE_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def print_examples(module: Path, service: str) -> None:
    click.echo(example("pam.yaml.example"))
    click.echo(example("pam.d-sshd.example", **{"/etc/pam.d/sshd": f"/etc/pam.d/{service}"}))
    click.echo(example("sshd_config.example"))
    click.echo(f"# The module: {module}")


@click.group("pam")
def pam_group() -> None:
    """SSH, sudo and console logins through PAM (pam_radiusd.so and its helper)."""


@pam_group.command("install")
@click.option(
    "--prefix",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Install under this root instead of / (for packaging).",
)
@click.option("--print-only", is_flag=True, help="Print the example configuration; build nothing.")
@click.option(
    "--python",
    "python",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(sys.executable),
    show_default=True,
    help="Interpreter the module starts the helper with; it must be able to import radiusd.",
)
@click.option("--service", default="sshd", show_default=True, help="PAM service in the printed example.")
def install(prefix: Path, print_only: bool, python: Path, service: str) -> None:
    """Build pam_radiusd.so, install it into the PAM module directory and print an example
    /etc/radiusd/pam.yaml, /etc/pam.d/SERVICE and the sshd_config lines SSH needs."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", service):
        raise UsageError(f"not a PAM service name: {service!r}")
    if not python.is_absolute() or not _SAFE_PATH.match(str(python)):
        raise UsageError(f"--python must be an absolute path of plain characters, not {str(python)!r}")
    if not os.access(python, os.X_OK):
        raise UsageError(f"--python {python}: not an executable file")
    target = prefix / security_dir().relative_to("/") / MODULE_NAME
    if print_only:
        print_examples(target, service)
        return
    build_module(python, target)
    click.echo(f"installed {target}  (helper: {python} -I -m radiusd.pamclient)", err=True)
    print_examples(target, service)


commands = [pam_group]
