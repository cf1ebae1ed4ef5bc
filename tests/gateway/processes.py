"""The real gateway parts as processes: socat makes a pty pair (the serial line), ser2net fronts
one end of it on a loopback port, raw TCP or RFC 2217. Each one is always stopped."""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import time
from typing import NamedTuple

import pytest

SETUP_HINT = (
    "scripts/setup installs it in the Debian rootfs (scripts/run-in-env ROOTFS_PACKAGES); "
    "when run-in-env uses a host Python instead, install it on the host: apt-get install "
    "ser2net socat"
)
DEBIAN12_HINT = (
    "scripts/run-in-env fetches it from the Debian mirror of /etc/apt (see its warning and "
    "~/.cache/microstar_dlms/ser2net-bookworm.log) and passes it on as MICROSTAR_SER2NET_BOOKWORM"
)


def tool(name: str) -> str:
    """The path of ``name``; a missing tool fails the test (the setup installs it)."""
    path = shutil.which(name) or next(
        (p for d in ("/usr/sbin", "/sbin") if os.access(p := f"{d}/{name}", os.X_OK)), None
    )
    if path is None:
        pytest.fail(f"{name} is not installed; {SETUP_HINT}")
    return path


class Ser2netBuild(NamedTuple):
    """A ser2net executable and what it is: "current" (the environment's) or "debian12"."""

    name: str
    program: str


def debian12_ser2net() -> str:
    """Debian 12's ser2net (4.3.11, as on Raspberry Pi OS bookworm gateways); CI fails without
    it, elsewhere the test is skipped."""
    program = os.environ.get("MICROSTAR_SER2NET_BOOKWORM", "")
    if not os.access(program, os.X_OK):
        message = f"Debian 12's ser2net is not available; {DEBIAN12_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    version = subprocess.run(
        [program, "-v"], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    if " version 4.3." not in version:
        pytest.fail(f"{program} is not ser2net 4.3: {version!r}")
    return program


def wait_for(condition: Callable[[], object], within: float, what: str) -> None:
    """Poll ``condition`` every 20 ms until true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {within:g} s for {what}")
        time.sleep(0.02)


def free_port() -> int:
    """A loopback port nobody listens on now (never 3333 or 8123: ephemeral range)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (read from /proc: no probe client)."""
    return bool(tcp_states(port, "0A"))


class Process:
    """One external process with its output in a log file; ``stop`` always ends it."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        """Start ``argv`` in a session of its own."""
        self.name = name
        self.argv = argv
        self.log = log
        self._popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (again)."""
        with self.log.open("ab") as out:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The running process id."""
        assert self._popen is not None
        return self._popen.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self._popen is not None and self._popen.poll() is None

    def check(self) -> None:
        """Fail with the log when the process has died."""
        if self._popen is not None and self._popen.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self._popen.returncode}:\n{self.log.read_text()}"
            )

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal, wait up to 5 s, then SIGKILL."""
        popen, self._popen = self._popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.send_signal(sig)
        try:
            popen.wait(5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(5)

    def open_files(self) -> list[str]:
        """What the process holds open (its /proc fd links)."""
        fds = Path(f"/proc/{self.pid}/fd")
        names = []
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                names.append(os.readlink(fd))
        return names


class PtyPair(Process):
    """``socat pty,raw,echo=0,link=meter pty,raw,echo=0,link=client``: a serial line."""

    def __init__(self, workdir: Path) -> None:
        """Links ``meter`` and ``client`` in ``workdir`` once started."""
        self.meter_end = workdir / "meter-end"
        self.client_end = workdir / "client-end"
        link = "pty,raw,echo=0,link={}"
        argv = [tool("socat"), link.format(self.meter_end), link.format(self.client_end)]
        super().__init__("socat", argv, workdir / "socat.log")

    def start(self) -> None:
        """Start and wait for both links."""
        super().start()
        wait_for(
            lambda: (self.meter_end.exists() and self.client_end.exists()) or self.check(),
            10,
            "socat's pty links",
        )


class Ser2net(Process):
    """ser2net in the foreground with a YAML config of one connection on a free port."""

    def __init__(
        self,
        device: Path,
        workdir: Path,
        *,
        rfc2217: bool = False,
        timeout: int | None = None,
        name: str = "ser2net",
        program: str | None = None,
    ) -> None:
        """Write the config; ``start`` runs it (``program``: another ser2net build)."""
        self.port = free_port()
        self.rfc2217 = rfc2217
        self.device = device
        accepter = f"tcp,127.0.0.1,{self.port}"
        if rfc2217:
            accepter = f"telnet(rfc2217),{accepter}"
        options = "\n  options:\n    kickolduser: false"
        if timeout is not None:
            options = f"\n  timeout: {timeout}{options}"
        config = workdir / f"{name}.yaml"
        config.write_text(
            f"connection: &meter\n  accepter: {accepter}\n"
            f"  connector: serialdev,{device},9600n81,local{options}\n"
        )
        pid_file = workdir / f"{name}.pid"
        argv = [program or tool("ser2net"), "-n", "-u", "-c", str(config), "-P", str(pid_file)]
        super().__init__(name, argv, workdir / f"{name}.log")

    @property
    def endpoint(self) -> str:
        """The serialx URL of the port: ``socket://`` (raw) or ``rfc2217://``."""
        scheme = "rfc2217" if self.rfc2217 else "socket"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until the port listens."""
        super().start()
        wait_for(lambda: listening(self.port) or self.check(), 10, f"ser2net on {self.port}")

    def restart(self) -> None:
        """Stop (SIGTERM, as systemd does) and start again on the same port."""
        self.stop()
        self.start()

    def holds_device(self) -> bool:
        """Whether ser2net has the serial device open (it opens it per TCP client)."""
        target = os.path.realpath(self.device)
        return target in self.open_files()

    def clients(self) -> int:
        """TCP connections to the port that are not closed yet (established or half-closed)."""
        return len(tcp_states(self.port, "01", "08"))


def tcp_states(port: int, *states: str) -> list[str]:
    """/proc/net/tcp states of sockets whose local end is 127.0.0.1:``port``."""
    wanted = f"0100007F:{port:04X}"
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return [row[3] for row in rows if row[1] == wanted and row[3] in states]
