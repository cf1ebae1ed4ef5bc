"""A line-based control port on loopback: switch faults and power-cycle a running simulator.

Try ``nc 127.0.0.1 PORT`` and type ``help``. Every command answers one line: ``ok ...`` or
``error ...`` (``status`` and ``record`` answer ``ok`` followed by JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from typing import TYPE_CHECKING

from .faults import FAULT_NAMES, describe_fault, parse_fault
from .listener import Listener

if TYPE_CHECKING:
    from .simulator import Simulator

_LOGGER = logging.getLogger(__name__)

HELP = (
    "commands: help | status | record | faults | fault SPEC [meter=N] | clear | "
    "power-cycle [N] | password SAP PASSWORD|none [meter=N] | load W|model [meter=N] | "
    "stale HEX | quit; "
    f"fault names: {', '.join(FAULT_NAMES)}"
)


class ControlServer(Listener):
    """Accepts control connections on ``host``; each line is one command."""

    def __init__(self, simulator: Simulator, host: str) -> None:
        """Call ``start`` to listen."""
        super().__init__()
        self.simulator = simulator
        self.host = host

    async def start(self, port: int) -> None:
        """Listen on ``port`` (0: ephemeral)."""
        await self.listen(self.host, port)

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while line := await reader.readline():
                command = line.decode("utf-8", "replace").strip()
                if not command:
                    continue
                if command == "quit":
                    break
                writer.write((self.execute(command) + "\n").encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._handlers.discard(task)

    def execute(self, command: str) -> str:
        """Run one command and return the answer line."""
        verb, _, rest = command.partition(" ")
        args = rest.split()
        try:
            answer = self._execute(verb.lower(), args)
        except (ValueError, IndexError, KeyError) as err:
            return f"error {err}"
        _LOGGER.info("control: %s -> %s", command, answer)
        return answer

    def _execute(self, verb: str, args: list[str]) -> str:
        sim = self.simulator
        options = dict(a.split("=", 1) for a in args if a.startswith("meter="))
        positional = [a for a in args if not a.startswith("meter=")]
        meter = int(options["meter"]) if "meter" in options else None
        match verb:
            case "help":
                return f"ok {HELP}"
            case "status":
                return "ok " + json.dumps(self.status())
            case "record":
                return "ok " + json.dumps(sim.record.summary())
            case "faults":
                return "ok " + "; ".join(describe_fault(f) for f in sim.faults)
            case "fault":
                if len(positional) != 1:
                    raise ValueError("usage: fault SPEC [meter=N]")
                fault = parse_fault(positional[0])
                sim.set_fault(fault, meter)
                return f"ok {describe_fault(fault)}"
            case "clear":
                sim.clear_faults()
                return "ok faults cleared"
            case "power-cycle":
                index = int(positional[0]) if positional else meter
                sim.power_cycle(index)
                return "ok power cycled"
            case "password":
                if len(positional) != 2:
                    raise ValueError("usage: password SAP PASSWORD|none [meter=N]")
                password = None if positional[1] == "none" else positional[1]
                sim.set_password(int(positional[0]), password, meter or 0)
                return "ok password set"
            case "load":
                if len(positional) != 1:
                    raise ValueError("usage: load W|model [meter=N]")
                watts = None if positional[0] == "model" else float(positional[0])
                if watts is not None and not math.isfinite(watts):
                    raise ValueError(f"{positional[0]} W is no power")
                sim.set_load(watts, meter)
                return "ok load " + ("follows the model" if watts is None else f"{watts:g} W")
            case "stale":
                sim.add_stale_bytes(bytes.fromhex("".join(positional)))
                return "ok stale bytes added"
            case _:
                raise ValueError(f"unknown command {verb!r}; try help")

    def status(self) -> dict[str, object]:
        """Faults, meter states and record counts."""
        sim = self.simulator
        meters = []
        record = sim.record
        for meter in sim.meters:
            link = meter.link
            meters.append(
                {
                    "address": str(meter.address),
                    "serial": meter.config.serial_number,
                    "silent": meter.hung,
                    "link": None
                    if link is None
                    else {"client": link.client_sap, "stuck": link.stuck},
                    "association": None
                    if meter.association is None
                    else meter.association.access.client_sap,
                }
            )
        return {
            "faults": [describe_fault(f) for f in sim.faults],
            "meters": meters,
            "record": record.summary(),
        }
