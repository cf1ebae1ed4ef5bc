"""Simulated gateways for the scale run, in their own process (their CPU is not ours).

``python -m benchmarks.simhost GATEWAYS METERS_PER_GATEWAY`` prints one JSON line
``{"gateways": [{"host": ..., "port": ..., "meters": [[serial, physical], ...]}, ...]}``
and serves with ``--fast`` timing until its standard input closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

from microstar_sim import FAST, MeterConfig, Simulator, SimulatorConfig


def meter_config(gateway: int, index: int) -> MeterConfig:
    """A meter with its own serial; 4-byte addressing with the factory physical address."""
    serial = f"21{gateway:02d}{1001 + index:04d}"
    return MeterConfig(serial_number=serial, address_size=4)


async def serve(gateways: int, meters_per_gateway: int) -> None:
    """Start the gateways, announce them, wait for stdin to close."""
    async with contextlib.AsyncExitStack() as stack:
        announced = []
        for gateway in range(gateways):
            meters = tuple(meter_config(gateway, i) for i in range(meters_per_gateway))
            sim = await stack.enter_async_context(
                Simulator(SimulatorConfig(meters=meters, timing=FAST))
            )
            announced.append(
                {
                    "host": sim.host,
                    "port": sim.port,
                    "meters": [[m.serial_number, m.address.physical] for m in meters],
                }
            )
        print(json.dumps({"gateways": announced}), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


def main() -> None:
    """Entry point: the last CPU (and lowest priority), as real gateways are other machines."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > 1:
        os.sched_setaffinity(0, cpus[-1:])
    os.nice(19)
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))


if __name__ == "__main__":
    main()
