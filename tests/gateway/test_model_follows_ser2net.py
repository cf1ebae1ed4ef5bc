"""Where our gateway model and the real ser2net could differ, the same scenario runs against
both and must end the same way. Each test pins one behaviour the field depends on; a model that
drifts from ser2net fails here, not in the field.

Differences found and fixed in the model (see the report of issue 14):
- meter output sent while no client is connected: ser2net in front of a pty keeps it for the
  next client; the model dropped it by default (``keep_output_while_disconnected`` now True);
- the idle ``timeout``: ser2net counts traffic either way, the model only counted the
  client's bytes and closed a client that was only listening.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
import time

import pytest

from custom_components.microstar_dlms.dlms.hdlc import FrameKind, decode_frame
from microstar_sim import (
    FAST,
    DelayResponse,
    Fault,
    GatewayConfig,
    ResponseKind,
    Simulator,
    SimulatorConfig,
)
from microstar_sim.pytest_plugin import SimulatorFactory

from .processes import Ser2net

FIELD_SNRM = bytes.fromhex("7EA0070303938C117E")
FIELD_DISC = bytes.fromhex("7EA00703035380D77E")
BUSY_TEXT = b"Port already in use\r\n"


@dataclass
class Gateway:
    """A meter behind a gateway: our model or ser2net on socat's line."""

    meter: Simulator
    port: int


type GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture(params=["model", "ser2net"])
def start_gateway(
    request: pytest.FixtureRequest,
    simulator: SimulatorFactory,
    start_meter: Callable[..., Awaitable[Simulator]],
    start_ser2net: Callable[..., Ser2net],
) -> GatewayFactory:
    """``await start_gateway(faults=..., idle_timeout=SECONDS)``: the same meter, either gateway."""

    async def start(faults: tuple[Fault, ...] = (), idle_timeout: int | None = None) -> Gateway:
        if request.param == "model":
            gateway = GatewayConfig(idle_timeout=idle_timeout)
            meter = await simulator(SimulatorConfig(timing=FAST, faults=faults, gateway=gateway))
            return Gateway(meter, meter.port)
        meter = await start_meter(faults=faults)
        return Gateway(meter, start_ser2net(timeout=idle_timeout).port)

    return start


class Client:
    """A plain TCP client of the gateway port."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Use ``connected``."""
        self.reader = reader
        self.writer = writer

    async def send(self, data: bytes) -> None:
        """Write bytes."""
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, within: float) -> bytes:
        """What arrives within ``within`` seconds (stops early at EOF)."""
        data = b""
        deadline = asyncio.get_running_loop().time() + within
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                async with asyncio.timeout(left):
                    chunk = await self.reader.read(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data

    async def close(self) -> None:
        """Close our side."""
        self.writer.close()
        await self.writer.wait_closed()


async def connected(port: int) -> Client:
    """Connect to the gateway."""
    return Client(*await asyncio.open_connection("127.0.0.1", port))


@pytest.fixture
async def clients() -> AsyncIterator[Callable[[int], Awaitable[Client]]]:
    """Connect clients; every one is closed at the end."""
    opened: list[Client] = []

    async def connect(port: int) -> Client:
        opened.append(client := await connected(port))
        return client

    yield connect
    for client in opened:
        if not client.writer.is_closing():
            await client.close()


async def test_a_second_client_gets_the_busy_text_and_is_closed(
    start_gateway: GatewayFactory, clients: Callable[[int], Awaitable[Client]]
) -> None:
    """The busy text, exactly, then EOF; the first client keeps the meter."""
    gateway = await start_gateway()
    first = await clients(gateway.port)
    await first.send(FIELD_SNRM)
    assert decode_frame(await first.read(2.0)).kind is FrameKind.UA
    second = await clients(gateway.port)
    assert await second.read(3.0) == BUSY_TEXT
    assert second.reader.at_eof()
    await first.send(FIELD_DISC)
    assert decode_frame(await first.read(2.0)).kind is FrameKind.UA


async def test_no_banner_the_line_speaks_first(
    start_gateway: GatewayFactory, clients: Callable[[int], Awaitable[Client]]
) -> None:
    """A raw client gets nothing from the gateway itself: the first byte is the meter's."""
    gateway = await start_gateway()
    client = await clients(gateway.port)
    assert await client.read(0.5) == b""
    await client.send(FIELD_SNRM)
    assert (await client.read(2.0)).startswith(b"\x7e\xa0")


async def test_an_answer_to_a_client_that_left_waits_for_the_next(
    start_gateway: GatewayFactory, clients: Callable[[int], Awaitable[Client]]
) -> None:
    """The meter answers after its client left: the answer waits on the line and is the first
    thing the next client reads (field §3: drain before SNRM)."""
    gateway = await start_gateway(faults=(DelayResponse(0.5, on=ResponseKind.UA),))
    first = await clients(gateway.port)
    await first.send(FIELD_SNRM)
    await asyncio.sleep(0.1)
    await first.close()
    await asyncio.sleep(0.8)
    await gateway.meter.settle()
    second = await clients(gateway.port)
    assert decode_frame(await second.read(1.0)).kind is FrameKind.UA


async def test_an_answer_the_client_never_read_leaves_with_it(
    start_gateway: GatewayFactory, clients: Callable[[int], Awaitable[Client]]
) -> None:
    """Bytes already passed to a client are lost when it closes without reading them."""
    gateway = await start_gateway()
    first = await clients(gateway.port)
    await first.send(FIELD_SNRM)
    await asyncio.sleep(0.3)
    await gateway.meter.settle()
    await first.close()
    await asyncio.sleep(0.3)
    second = await clients(gateway.port)
    assert await second.read(0.5) == b""


async def test_idle_timeout_counts_meter_output_as_activity(
    start_gateway: GatewayFactory, clients: Callable[[int], Awaitable[Client]]
) -> None:
    """With ``timeout: 1`` a client that only listens stays while the meter talks, and is closed
    without a word once nothing moves (ser2net: within about 1 s after the timeout)."""
    gateway = await start_gateway(idle_timeout=1)
    client = await clients(gateway.port)
    heard = b""
    for _ in range(6):  # 3 s of meter output, a byte every 0.5 s
        gateway.meter.add_stale_bytes(b"\x00")
        last_activity = time.monotonic()
        heard += await client.read(0.5)
    assert heard == b"\x00" * 6
    assert not client.reader.at_eof()
    assert await client.read(5.0) == b""
    assert client.reader.at_eof()
    assert 0.9 < time.monotonic() - last_activity < 3.0
