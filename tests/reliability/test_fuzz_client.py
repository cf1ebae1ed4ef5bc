"""Fuzzing the whole client session: the simulated meter answers, hypothesis damages each answer
(bit flips, cuts, drops, repeats, noise, gateway text, a closed connection, pure garbage).

Whatever arrives, ``MeterClient.session()`` raises only package errors (``ClientError``, or
``DataAccessError`` from ``get``), ends within its time budget, closes the stream and releases
the endpoint lock. No sockets: the stream is an in-memory stand-in, so thousands of sessions run
in CI.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
import random
import time
from unittest.mock import patch

from hypothesis import event, given, strategies as st

from custom_components.microstar_dlms.dlms import (
    AttributeRef,
    ConnectionSettings,
    MeterClient,
    Obis,
    ServerAddress,
)
from custom_components.microstar_dlms.dlms.client import forget_meters
from custom_components.microstar_dlms.dlms.errors import (
    ClientError,
    ConnectionFailed,
    DataAccessError,
    FrameError,
)
from custom_components.microstar_dlms.dlms.hdlc import Deframer, HdlcFrame
from custom_components.microstar_dlms.dlms.transport import endpoint_lock
from microstar_sim import FakeClock, MeterConfig
from microstar_sim.meter import SimulatedMeter
from microstar_sim.record import SimulatorRecord

from .conftest import fuzz_settings

ENDPOINT = "socket://fuzz.invalid:3333"
RESPONSE_TIMEOUT = 0.004
SETTINGS = ConnectionSettings(
    endpoint=ENDPOINT,
    client_sap=1,
    password="2222222222",
    server=ServerAddress(1),
    response_timeout=RESPONSE_TIMEOUT,
    connect_timeout=0.05,
    lock_timeout=0.05,
)
READS = [
    AttributeRef(3, Obis.parse("1-1:1.8.0"), 2),
    AttributeRef(3, Obis.parse("1-1:32.7.0"), 3),
    AttributeRef(15, Obis.parse("0-0:40.0.0"), 2),  # the object list: block transfer
    AttributeRef(3, Obis.parse("1-1:99.99.0"), 2),  # not on this meter
]
SERIAL = AttributeRef(1, Obis.parse("1-0:0.0.0"), 2)
# Upper bound of one session however the meter misbehaves: every exchange may take all its
# retries; the object list needs a few dozen exchanges; closing has its own budget.
SESSION_BUDGET = 10.0

DAMAGES = (
    "flip",
    "truncate",
    "drop",
    "repeat",
    "noise",
    "garbage",
    "busy_text",
    "close",
    "split",
    "late",
)


@dataclass
class DamagingPeer:
    """Stands in for the TCP stream: the meter model answers, ``damage`` spoils answers."""

    # Damage comes from a seeded generator, not from hypothesis draws: how many answers a
    # session gets depends on timing (4 ms timeouts on a loaded machine), and hypothesis refuses
    # a test whose draws vary between runs of the same example (FlakyStrategyDefinition).
    rng: random.Random
    meter: SimulatedMeter
    rate: int = 100  # percent of answers damaged
    damages: list[str] = field(default_factory=list)
    deframer: Deframer = field(default_factory=Deframer)
    inbound: deque[bytes] = field(default_factory=deque)
    held: list[bytes] = field(default_factory=list)
    at_eof: bool = False
    closed: bool = False
    writes: int = 0
    endpoint: str = ENDPOINT

    async def read(self, within: float) -> bytes:
        """What is waiting, or nothing after a (short) wait, like the real stream."""
        if self.inbound:
            return self.inbound.popleft()
        if self.at_eof or self.closed:
            return b""
        await asyncio.sleep(min(max(within, 0), RESPONSE_TIMEOUT / 2))
        return b""

    async def write(self, data: bytes, within: float) -> None:
        """The client's bytes reach the meter; its answers come back, perhaps damaged."""
        if self.closed or self.at_eof:
            raise ConnectionFailed("closed")
        self.writes += 1
        assert self.writes < 2_000, "the client keeps writing: no bound on retries"
        self.inbound.extend(self.held)
        self.held.clear()
        self.deframer.feed(data)
        while True:
            try:
                item = self.deframer.next_event()
            except FrameError:
                continue
            if item is None:
                break
            if isinstance(item, HdlcFrame) and item.destination == self.meter.address:
                for reply in self.meter.handle(item, 1):
                    self._answer(reply.data)

    def _answer(self, wire: bytes) -> None:
        spoil = self.rate and self.rng.randint(0, 99) < self.rate
        kind = self.rng.choice(DAMAGES) if spoil else "none"
        self.damages.append(kind)
        if kind == "none":
            self.inbound.append(wire)
        elif kind == "flip":
            spoiled = bytearray(wire)
            spoiled[self.rng.randint(0, len(wire) - 1)] ^= 1 << self.rng.randint(0, 7)
            self.inbound.append(bytes(spoiled))
        elif kind == "truncate":
            self.inbound.append(wire[: self.rng.randint(0, len(wire) - 1)])
        elif kind == "repeat":
            self.inbound.extend([wire, wire])
        elif kind == "noise":
            self.inbound.extend([self.rng.randbytes(self.rng.randint(1, 12)), wire])
        elif kind == "garbage":
            self.inbound.append(self.rng.randbytes(self.rng.randint(1, 300)))
        elif kind == "busy_text":
            self.inbound.append(b"Port already in use\r\n")
            self.at_eof = True
        elif kind == "close":
            self.inbound.append(wire[: self.rng.randint(0, len(wire))])
            self.at_eof = True
        elif kind == "split":
            cut = self.rng.randint(1, max(1, len(wire) - 1))
            self.inbound.extend([wire[:cut], wire[cut:]])
        elif kind == "late":
            self.held.append(wire)  # arrives after the client's next write (a slow meter)
        # "drop": nothing arrives

    async def close(self, within: float = 1.0) -> None:
        """Idempotent, like the real stream."""
        self.closed = True


async def _session(peer: DamagingPeer) -> str:
    """One poll as the integration runs it; returns how it ended.

    When it ends well, every value must be the meter's own: damage may cost a poll, never
    publish a wrong value.
    """

    async def open_stream(endpoint: str, baudrate: int, within: float) -> DamagingPeer:
        return peer

    forget_meters()  # each example starts as a first session with this meter
    client = MeterClient(SETTINGS, trace=lambda record: None)
    with patch("custom_components.microstar_dlms.dlms.client.open_stream", open_stream):
        try:
            async with client.session() as session:
                results = await session.read_attributes(READS)
                assert len(results) == len(READS)
                for ref, result in zip(READS[:3], results, strict=False):
                    expected = peer.meter.value(str(ref.obis), ref.attribute)
                    assert result.data == expected, f"{ref}: {result.data} != {expected}"
                assert isinstance(results[3].error, DataAccessError)
                try:
                    serial = await session.get(SERIAL)
                except DataAccessError:
                    return "data access error"
                assert serial == b"21061234"
        except ClientError as err:
            return type(err).__name__
    return "ok"


@fuzz_settings(ci=600, nightly=20_000)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 3, 10, 30, 100]), st.integers(1, 1_000))
def test_any_damage_ends_in_a_package_error_within_budget(
    damage_seed: int, rate: int, seed: int
) -> None:
    """A session against a meter whose answers are damaged at random (``rate`` percent)."""
    meter = SimulatedMeter(
        MeterConfig(seed=seed, load_profile_history_days=0), FakeClock(), SimulatorRecord()
    )
    peer = DamagingPeer(rng=random.Random(damage_seed), meter=meter, rate=rate)

    async def scenario() -> str:
        started = time.monotonic()
        outcome = await _session(peer)
        elapsed = time.monotonic() - started
        assert elapsed < SESSION_BUDGET, f"session took {elapsed:.1f} s"
        # The lock is free again at once: nothing left holding the endpoint.
        async with endpoint_lock(ENDPOINT, 0.01):
            pass
        return outcome

    outcome = asyncio.run(scenario())
    event(f"outcome: {outcome}")
    for kind in set(peer.damages) - {"none"}:
        event(f"damage: {kind}")
    assert peer.closed, "the stream was not closed"
