"""SMS through a local program (gammu-smsd-inject, smstools' sendsms …), never through a shell.

The number and the text are single arguments: whatever they contain, no shell sees them, and the
number is checked to be digits before it gets here, so it cannot pose as an option.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from radiusd.config.delivery import SmsConfig
from radiusd.delivery.message import CodeMessage, DeliveryError, with_retries
from radiusd.delivery.templates import render


class CommandSender:
    channel = "sms"

    def __init__(self, cfg: SmsConfig) -> None:
        self.cfg = cfg

    def argv(self, to: str, message: CodeMessage) -> list[str]:
        values = {"to": to, "text": render(self.cfg.text, message.fields())}
        return [render(arg, values) for arg in self.cfg.command]

    async def send(self, to: str, message: CodeMessage) -> None:
        argv = self.argv(to, message)
        where = f"sms command {os.path.basename(argv[0])}"
        await with_retries(where, lambda: self._run(argv, message.code), self.cfg.timeout, self.cfg.retries)

    async def _run(self, argv: list[str], code: str) -> None:
        program = os.path.basename(argv[0])
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group, so a timeout ends its children too
            )
        except OSError as exc:
            raise DeliveryError(f"sms command {program}: {exc.strerror or exc}", transient=False) from None
        try:
            _, stderr = await proc.communicate()
        except asyncio.CancelledError:  # the timeout of with_retries, or the server shutting down
            _kill(proc)
            await proc.wait()
            raise
        if proc.returncode != 0:
            # The last line of stderr names the trouble; the text (with the code) is never echoed.
            last = (stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
            detail = f": {' '.join(last.split())[:80]}" if last and code not in last else ""
            raise DeliveryError(f"sms command {program}: exit status {proc.returncode}{detail}")


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
