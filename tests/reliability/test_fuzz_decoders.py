"""Fuzzing every decoder that sees wire bytes: only package errors escape, in bounded time and
memory, whatever a broken meter, a noisy line or a hostile gateway sends.

Thousands of examples per decoder in CI; ``--slow`` (or ``MICROSTAR_SLOW=1``) runs 50 000 each.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
import gc
import re
import time
from typing import Any

from hypothesis import given, strategies as st

from custom_components.microstar_dlms.cosem import (
    as_datetime,
    as_number,
    as_text,
    parse_object_list,
    parse_scaler_unit,
)
from custom_components.microstar_dlms.dlms.apdu import (
    DatablockAssembler,
    GetResponseWithDatablock,
    decode_apdu,
    decode_list_payload,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import (
    CosemDate,
    CosemDateTime,
    CosemTime,
    Data,
)
from custom_components.microstar_dlms.dlms.errors import DataAccessResult, DlmsError
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    HdlcFrame,
    HdlcParameters,
    Noise,
    ServerAddress,
    decode_body,
    decode_frame,
    parse_header,
)
from custom_components.microstar_dlms.dlms.hdlc_link import (
    Connected,
    Disconnected,
    FrameRejected,
    HdlcLink,
    Ignored,
    MessageReceived,
    SendFrame,
)
from custom_components.microstar_dlms.dlms.obis import Obis, ScalerUnit
from custom_components.microstar_dlms.dlms.trace import MASK, aarq_password_span, mask_frame
from custom_components.microstar_dlms.reading import meter_clock_drift

from .conftest import fuzz_settings
from .wire import (
    FIELD_FRAMES,
    METER_APDUS,
    METER_FRAMES,
    SAMPLE_DATA,
    compact_array,
    cosem_data,
    data_nodes,
    mutated,
    wire_bytes,
)

ALL_FRAMES = FIELD_FRAMES + METER_FRAMES
UA_PARAMETERS = "81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00 00 01"  # §4
# A decoder call on at most a few kilobytes must return well within this, even on a loaded
# 2-core CI machine; the client's per-frame response timeout is 3 s.
CALL_BUDGET = 0.25
# A decoded value may hold a few Data values per input byte (a structure header and its
# fields), never thousands: that would let a 2 KB answer take gigabytes.
NODES_PER_BYTE = 8


def timed[T](call: Callable[[], T]) -> T:
    """Run a decoder; only DlmsError may escape, and it must be quick.

    CPU time of this thread, so other processes on a loaded CI machine do not count, with the
    cyclic collector paused, so a collection of what earlier examples left is not charged here.
    """
    gc.disable()
    started = time.thread_time()
    try:
        return call()
    finally:
        elapsed = time.thread_time() - started
        gc.enable()
        assert elapsed < CALL_BUDGET, f"decoder took {elapsed:.3f} s of CPU"


def decodes_or_rejects[T](call: Callable[[], T]) -> T | None:
    """The decoder's result, or None when it raised a package error (anything else fails)."""
    try:
        return timed(call)
    except DlmsError:
        return None


# -- HDLC -----------------------------------------------------------------------------------------


@fuzz_settings(ci=2_000)
@given(st.lists(wire_bytes(ALL_FRAMES, max_size=96), max_size=10), st.integers(1, 64))
def test_deframer_survives_any_stream(chunks: list[bytes], cut: int) -> None:
    """Any byte stream, in any chunking: frames or noise come out, the buffer drains, and
    every frame handed out re-encodes to the bytes it came from."""
    stream = b"".join(chunks)
    deframer = Deframer()
    frames: list[HdlcFrame] = []
    noise = 0
    steps = 0
    for start in range(0, len(stream), cut):
        deframer.feed(stream[start : start + cut])
        while True:
            steps += 1
            assert steps <= 2 * len(stream) + 4, "deframer does not settle"
            try:
                event = timed(deframer.next_event)
            except DlmsError:
                continue
            if event is None:
                break
            if isinstance(event, Noise):
                assert event.data
                noise += len(event.data)
            else:
                assert isinstance(event, HdlcFrame)
                frames.append(event)
    assert deframer.buffered <= min(len(stream), 2 + 0x07FF)
    for frame in frames:
        assert decode_frame(frame.encode()) == frame


@fuzz_settings(ci=3_000)
@given(wire_bytes(ALL_FRAMES))
def test_frame_decoders_reject_with_frame_errors_only(data: bytes) -> None:
    """decode_frame, decode_body and parse_header: a frame or a FrameError, nothing else."""
    frame = decodes_or_rejects(lambda: decode_frame(data))
    if frame is not None:
        assert frame.encode() == data
        _ = frame.kind, frame.describe()
    decodes_or_rejects(lambda: decode_body(data[1:-1]))
    decodes_or_rejects(lambda: parse_header(data[1:]))


@fuzz_settings()
@given(
    st.one_of(
        st.binary(max_size=40),
        mutated((bytes.fromhex(UA_PARAMETERS),)),
    )
)
def test_hdlc_parameters_decode(information: bytes) -> None:
    """A UA parameter group: in-range parameters or a FrameError."""
    parameters = decodes_or_rejects(lambda: HdlcParameters.decode(information))
    if parameters is not None:
        assert 1 <= parameters.max_info_tx <= 2030
        assert 1 <= parameters.window_rx <= 7


@fuzz_settings()
@given(st.binary(max_size=6))
def test_server_address_decode(data: bytes) -> None:
    """Address bytes: an encodable address of the same bytes, or a FrameError."""
    address = decodes_or_rejects(lambda: ServerAddress.decode(data))
    if address is not None:
        assert address.encode() == data


@st.composite
def link_frames(draw: st.DrawFn) -> HdlcFrame:
    """Frames a meter (or something else on the line) might send a client."""
    client = ServerAddress(draw(st.sampled_from([1, 1, 1, 16, 32])))
    server = draw(
        st.sampled_from(
            [ServerAddress(1), ServerAddress(1), ServerAddress(1, 17, 2), ServerAddress(1, 1234, 4)]
        )
    )
    control = draw(
        st.one_of(
            st.sampled_from([0x73, 0x63, 0x1F, 0x0F, 0x97, 0x87, 0x11, 0x31, 0x51, 0x10, 0x30]),
            st.integers(0, 255),
        )
    )
    information = draw(
        st.one_of(st.just(b""), st.binary(max_size=40), st.sampled_from(METER_APDUS))
    )
    return HdlcFrame(client, server, control, information, draw(st.booleans()))


@fuzz_settings(ci=1_000, nightly=30_000)
@given(st.lists(st.tuples(link_frames(), st.booleans(), st.binary(max_size=300)), max_size=12))
def test_client_link_state_machine(steps: list[tuple[HdlcFrame, bool, bytes]]) -> None:
    """The client's HDLC link fed any frames, sending between them: events or FrameError."""
    link = HdlcLink(ServerAddress(1), 1, max_message=4096)
    link.connect()
    for frame, send, message in steps:
        if send:
            decodes_or_rejects(lambda m=message: link.send(m))
        event = decodes_or_rejects(lambda f=frame: link.receive(f))
        assert event is None or isinstance(
            event, Connected | Disconnected | SendFrame | MessageReceived | FrameRejected | Ignored
        )
        if isinstance(event, MessageReceived):
            assert len(event.information) <= 4096
        if isinstance(event, SendFrame):
            assert decode_frame(event.data).destination == ServerAddress(1)


# -- APDUs and A-XDR ----------------------------------------------------------------------------


@fuzz_settings(ci=4_000)
@given(wire_bytes(METER_APDUS))
def test_apdu_decoder(data: bytes) -> None:
    """decode_apdu of anything: an APDU or a DecodeError."""
    decodes_or_rejects(lambda: decode_apdu(data))


@fuzz_settings()
@given(wire_bytes(tuple(b"\xe6\xe7\x00" + apdu for apdu in METER_APDUS)))
def test_llc_header(information: bytes) -> None:
    """strip_llc: the APDU or a DecodeError."""
    decodes_or_rejects(lambda: strip_llc(information, response=True))


@fuzz_settings(ci=1_500, nightly=30_000)
@given(cosem_data())
def test_axdr_round_trip(data: Data) -> None:
    """Every well-formed value decodes to itself (the client reads what the meter meant)."""
    encoded = data.encode()
    assert timed(lambda: Data.decode(encoded)) == data


@fuzz_settings(ci=4_000)
@given(
    st.one_of(
        st.binary(max_size=200),
        cosem_data().map(Data.encode).flatmap(lambda b: mutated((b,))),
        mutated(tuple(d.encode() for d in SAMPLE_DATA)),
        st.tuples(st.integers(0, 6), st.integers(0, 200)).map(lambda nm: compact_array(*nm)),
    )
)
def test_axdr_decoder(data: bytes) -> None:
    """Data.decode of anything: a value (whose tags can be dropped) or a DecodeError."""
    value = decodes_or_rejects(lambda: Data.decode(data))
    if value is not None:
        value.to_python()


@fuzz_settings(ci=300, nightly=3_000)
@given(
    st.one_of(
        st.tuples(st.integers(0, 300), st.integers(1, 600)).map(lambda nm: compact_array(*nm)),
        cosem_data().map(Data.encode),
        st.binary(max_size=200),
    )
)
def test_decoded_size_is_linear_in_the_input(data: bytes) -> None:
    """Memory bound: a value decoded from n bytes holds at most a few Data values per byte
    (or is refused), even a compact-array whose element is mostly zero-size fields
    (finding 1, fixed by the decoder's value budget)."""
    value = decodes_or_rejects(lambda: Data.decode(data))
    if value is not None:
        assert data_nodes(value) <= NODES_PER_BYTE * len(data) + 16


@fuzz_settings()
@given(st.binary(max_size=120))
def test_get_with_list_payload(payload: bytes) -> None:
    """Reassembled GET-with-list block data: results or a DecodeError."""
    decodes_or_rejects(lambda: decode_list_payload(payload))


@fuzz_settings()
@given(
    st.lists(
        st.builds(
            GetResponseWithDatablock,
            st.sampled_from([0xC1, 0xC2]),
            st.booleans(),
            st.integers(0, 2**32 - 1),
            st.one_of(st.binary(max_size=64), st.sampled_from(list(DataAccessResult))),
        ),
        max_size=10,
    )
)
def test_datablock_assembler(blocks: list[GetResponseWithDatablock]) -> None:
    """Blocks out of order, repeated, failed or endless: a payload or a DecodeError."""
    assembler = DatablockAssembler(max_size=256)
    for block in blocks:
        payload = decodes_or_rejects(lambda b=block: assembler.add(b))
        if payload is not None:
            assert len(payload) <= 256
            break


@fuzz_settings()
@given(st.binary(min_size=12, max_size=12))
def test_cosem_date_time(data: bytes) -> None:
    """Any 12 bytes are a date-time; converting never raises (None when not a real time)."""
    value = CosemDateTime.decode(data)
    converted = value.to_datetime()
    assert converted is None or isinstance(converted, datetime)
    assert value.encode() == data
    CosemDate.decode(data[:5]).to_date()
    CosemTime.decode(data[5:9]).to_time()


@fuzz_settings()
@given(st.binary(max_size=8), st.from_type(object) | st.lists(st.integers(-300, 300), max_size=3))
def test_obis_and_scaler_unit(logical_name: bytes, value: Any) -> None:
    """An object-list logical name and a scaler_unit value from the wire."""
    decodes_or_rejects(lambda: Obis.from_bytes(logical_name))
    scaler_unit = decodes_or_rejects(lambda: ScalerUnit.from_value(value))
    if scaler_unit is not None:
        str(scaler_unit)
        decodes_or_rejects(lambda: scaler_unit.apply(2**63 - 1))


# -- what the integration makes of decoded values -------------------------------------------------


@fuzz_settings(ci=1_500, nightly=30_000)
@given(
    st.one_of(
        cosem_data(),
        st.binary(max_size=60).map(lambda b: decodes_or_rejects(lambda: Data.decode(b))),
        st.sampled_from(SAMPLE_DATA),
    )
)
def test_integration_value_parsers_never_raise(data: Data | None) -> None:
    """Object list, scaler_unit, register, text and clock parsers take any decoded value:
    a result or None, never an exception inside the coordinator."""
    for value in (data, data.to_python() if data is not None else None):
        timed(lambda v=value: parse_object_list(v))
        scaler_unit = timed(lambda v=value: parse_scaler_unit(v))
        number = timed(lambda v=value: as_number(v))
        if scaler_unit is not None and number is not None:
            scaler_unit.scale(number)
        timed(lambda v=value: as_text(v))
        timed(lambda v=value: as_datetime(v))
        timed(lambda v=value: meter_clock_drift(v, datetime(2026, 1, 1, tzinfo=UTC)))


# -- traces ---------------------------------------------------------------------------------------

_TOKEN = re.compile(r"^(?:[0-9A-F]{2}|\*\*)$")


@fuzz_settings(ci=3_000)
@given(wire_bytes(ALL_FRAMES), st.one_of(st.none(), st.binary(min_size=1, max_size=12)))
def test_trace_masking_never_raises(data: bytes, secret: bytes | None) -> None:
    """The trace formatter runs on every received byte without a try: it must never raise,
    must show every byte as one token, and must mask every occurrence of the secret."""
    text, summary = timed(lambda: mask_frame(data, secret))
    tokens = text.split(" ") if text else []
    assert len(tokens) == len(data)
    assert all(_TOKEN.match(token) for token in tokens)
    assert isinstance(summary, str)
    if secret:
        start = data.find(secret)
        while start >= 0:
            assert all(tokens[i] == MASK for i in range(start, start + len(secret)))
            start = data.find(secret, start + 1)
    span = aarq_password_span(data)
    assert span is None or 0 <= span[0] <= span[1] <= len(data)


# -- a concrete amplification ---------------------------------------------------------------------


def test_two_kilobyte_answer_cannot_allocate_a_million_values() -> None:
    """A GET answer of 2 KB whose compact-array element is a structure of 1000 null-data
    fields and one unsigned: a decoder must refuse it (DecodeError) or stay linear. Before
    finding 1 was fixed it built a million Data values (about 60 MB, seconds of CPU), and a
    1 MB answer would have exhausted memory."""
    payload = b"\xc4\x01\xc1\x00" + compact_array(1000, 1000)
    assert len(payload) < 2100
    started = time.thread_time()
    try:
        apdu = decode_apdu(payload)
    except DlmsError:
        return
    elapsed = time.thread_time() - started
    result = getattr(apdu, "result", None)
    assert isinstance(result, Data)
    nodes = data_nodes(result)
    assert nodes <= NODES_PER_BYTE * len(payload), f"{nodes} values from {len(payload)} bytes"
    assert elapsed < CALL_BUDGET
