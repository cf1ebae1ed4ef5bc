"""External processes of the end-to-end run: started in their own session, always stopped.

Plain ``subprocess.Popen`` with output to a log file: no reader threads or tasks, so the
processes can outlive one test's event loop (they are module-scoped), and the logs stay next to
the screenshot for whoever reads a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
import contextlib
from dataclasses import dataclass
import os
from pathlib import Path
import re
import signal
import subprocess
import time


class ProcessDiedError(RuntimeError):
    """A process ended while the run still needed it."""


class ManagedProcess:
    """One external process and its log; ``stop`` ends it and everything it started."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        *,
        inherit_env: bool = True,
    ) -> None:
        """Start ``argv`` in a new session (so its children can be signalled as one group).

        ``env`` adds to this process's environment, or replaces it with ``inherit_env=False``.
        """
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            self._popen = subprocess.Popen(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**(os.environ if inherit_env else {}), **(env or {})},
            )

    @property
    def pid(self) -> int:
        """The process id."""
        return self._popen.pid

    def check_alive(self) -> None:
        """Raise ProcessDiedError, with the log's tail, when the process has ended."""
        if (code := self._popen.poll()) is not None:
            raise ProcessDiedError(
                f"{self.name} exited with {code}; log {self.log}:\n{self.tail()}"
            )

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait until a log line matches ``pattern``; return the match."""
        regex = re.compile(pattern, re.MULTILINE)
        return wait_for(
            lambda: regex.search(self.log.read_text(errors="replace")),
            timeout,
            f"{self.name} to log /{pattern}/",
            self,
        )

    def stop(self, grace: float = 20.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; return the exit code."""
        if self._popen.poll() is None:
            _signal_group(self._popen.pid, signal.SIGTERM)
            try:
                self._popen.wait(grace)
            except subprocess.TimeoutExpired:
                _signal_group(self._popen.pid, signal.SIGKILL)
                self._popen.wait(5)
        # Children that outlived their parent (a browser's helpers) go too.
        _signal_group(self._popen.pid, signal.SIGKILL)
        return self._popen.returncode


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def wait_for[T](
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
) -> T:
    """Poll ``probe`` every 0.1 s until it returns a truthy value (blocking; fixtures only)."""
    deadline = time.monotonic() + timeout
    while True:
        if value := probe():
            return value
        if process is not None:
            process.check_alive()
        if time.monotonic() > deadline:
            tail = f"; log {process.log}:\n{process.tail()}" if process else ""
            raise TimeoutError(f"waited {timeout:g} s for {what}{tail}")
        time.sleep(0.1)


# The vendor's documented meter (every object of the guide, 6400-byte PDU) at the slow end of a
# healthy line: 9600 baud and a fixed 250 ms turnaround (issue 17's measuring conditions).
GUIDE_METER = ("--profile", "microstar-guide", "--baudrate", "9600", "--turnaround", "250:250")
GUIDE_SERIAL = "21069001"


@dataclass(frozen=True, slots=True)
class SimulatorProcess:
    """The simulator: a gateway with one three-phase meter, and its control port."""

    process: ManagedProcess
    port: int
    control_port: int


@dataclass(frozen=True, slots=True)
class HassProcess:
    """Home Assistant on a free loopback port with a fresh config dir."""

    process: ManagedProcess
    base_url: str
    config_dir: Path


def log_records(log: Path, levels: tuple[str, ...]) -> list[tuple[str, str]]:
    """(logger, text with traceback) of each record at one of ``levels`` in a hass log."""
    # 2026.11 adds the UTC offset to the time: "2026-11-30 21:47:15.306+00:00 WARNING (...) [...]".
    header = re.compile(
        r"^\d{4}-\d\d-\d\d [\d:.]+(?:[+-]\d\d:?\d\d|Z)? (\w+) \([\w-]+\) \[([\w.]+)\]"
    )
    found: list[tuple[str, str]] = []
    current = False
    for line in log.read_text(errors="replace").splitlines():
        if match := header.match(line):
            current = match[1] in levels
            if current:
                found.append((match[2], line))
        elif current and not re.match(r"^\d{4}-\d\d-\d\d ", line):
            logger, text = found[-1]
            found[-1] = (logger, f"{text}\n{line}")
        else:
            current = False
    return found


def logged_errors(log: Path, logger_prefix: str) -> list[str]:
    """ERROR/CRITICAL lines (with their traceback) that a logger under ``logger_prefix`` wrote."""
    records = log_records(log, ("ERROR", "CRITICAL"))
    return [text for logger, text in records if logger.startswith(logger_prefix)]
