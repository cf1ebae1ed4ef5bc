"""Property tests: random and mutated input never makes the decoders escape or run away."""

import contextlib

from hypothesis import HealthCheck, given, settings, strategies as st

from custom_components.microstar_dlms.dlms.apdu import (
    Aarq,
    GetResponseNormal,
    GetResponseWithDatablock,
    Mechanism,
    decode_apdu,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.errors import DlmsError
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    HdlcFrame,
    HdlcParameters,
    Noise,
    ServerAddress,
    client_address,
    decode_frame,
)
from custom_components.microstar_dlms.dlms.trace import mask_frame

from .vectors import (
    AARQ_LLS_10,
    AARQ_VENDOR_NO_AUTH,
    GET_31_7_0_ATTR2,
    SCALER_UNIT_INFO,
    SNRM_1BYTE,
    SNRM_MALFORMED,
    UA_VENDOR,
)

FIELD_FRAMES = [AARQ_LLS_10, AARQ_VENDOR_NO_AUTH, GET_31_7_0_ATTR2, SNRM_1BYTE, UA_VENDOR]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A field frame with random bytes flipped, inserted or cut."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data.insert(pos, draw(st.sampled_from([0x7E, 0xA0, 0x00, 0xFF])))
        elif action == "delete" and data:
            del data[pos]
        else:
            del data[pos:]
    return bytes(data)


def _drain(deframer: Deframer, budget: int) -> list[HdlcFrame]:
    frames = []
    for _ in range(budget):
        try:
            event = deframer.next_event()
        except DlmsError:
            continue
        if event is None:
            return frames
        if isinstance(event, HdlcFrame):
            frames.append(event)
        else:
            assert isinstance(event, Noise)
            assert event.data
    raise AssertionError("deframer did not settle within its byte budget")


@FAST
@given(st.lists(st.one_of(st.binary(max_size=64), mutated(FIELD_FRAMES)), max_size=8))
def test_deframer_never_escapes_and_always_settles(chunks: list[bytes]) -> None:
    """Every call consumes input or waits: at most one step per byte, package errors only."""
    deframer = Deframer()
    total = 0
    for chunk in chunks:
        deframer.feed(chunk)
        total += len(chunk)
        _drain(deframer, budget=2 * total + 2)
    assert deframer.buffered <= total


@FAST
@given(st.binary(max_size=40), st.binary(max_size=40), st.sampled_from(FIELD_FRAMES))
def test_good_frame_survives_surrounding_noise(before: bytes, after: bytes, frame: bytes) -> None:
    """Noise around a frame never hides it (noise holding a flag may cost one resync)."""
    deframer = Deframer()
    deframer.feed(before.replace(b"\x7e", b"") + frame + after.replace(b"\x7e", b""))
    frames = _drain(deframer, budget=1000)
    assert decode_frame(frame) in frames


@FAST
@given(mutated([*FIELD_FRAMES, SNRM_MALFORMED]))
def test_decode_frame_only_raises_frame_error(data: bytes) -> None:
    """Single-frame decoding of mutated frames raises nothing but package errors."""
    try:
        frame = decode_frame(data)
        HdlcParameters.decode(frame.information) if frame.information[:1] == b"\x81" else None
        frame.describe()
    except DlmsError:
        pass


@FAST
@given(st.binary(max_size=300))
def test_random_apdus_only_raise_decode_error(data: bytes) -> None:
    """Random bytes as an APDU: decoded or DecodeError, nothing else."""
    with contextlib.suppress(DlmsError):
        decode_apdu(data)


APDU_SEEDS = [
    AARQ_LLS_10[11:-3],
    SCALER_UNIT_INFO[3:],
    Aarq(Mechanism.LOW, b"x" * 200).encode(),
    GetResponseWithDatablock(0xC1, True, 1, b"\x01\x02\x03").encode(),
    GetResponseNormal(
        0xC1, Data.array(*(Data(DataType.LONG_UNSIGNED, n) for n in range(20)))
    ).encode(),
    bytes.fromhex("C4 01 C1 00 13 02 02 12 0f 06 00 01 ff 00 02 fe"),
]


@FAST
@given(mutated(APDU_SEEDS))
def test_mutated_apdus_only_raise_decode_error(data: bytes) -> None:
    """Mutated real APDUs (with long-form lengths, nesting, compact arrays)."""
    with contextlib.suppress(DlmsError):
        decode_apdu(data)


@FAST
@given(st.binary(max_size=200))
def test_random_data_only_raises_decode_error(data: bytes) -> None:
    """A-XDR decoding of random bytes, including huge declared counts, is bounded."""
    with contextlib.suppress(DlmsError):
        Data.decode(data)


scalars = st.one_of(
    st.builds(Data, st.just(DataType.DOUBLE_LONG), st.integers(-(2**31), 2**31 - 1)),
    st.builds(Data, st.just(DataType.LONG64_UNSIGNED), st.integers(0, 2**64 - 1)),
    st.builds(Data, st.just(DataType.OCTET_STRING), st.binary(max_size=300)),
    st.builds(Data, st.just(DataType.UTF8_STRING), st.text(max_size=20)),
    st.builds(Data, st.just(DataType.BOOLEAN), st.booleans()),
    st.builds(Data, st.just(DataType.FLOAT64), st.floats(allow_nan=False)),
    st.just(Data(DataType.NULL_DATA)),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda items: Data.array(*items), st.lists(inner, max_size=5)),
        st.builds(lambda items: Data.structure(*items), st.lists(inner, max_size=5)),
    ),
    max_leaves=20,
)


@FAST
@given(values)
def test_data_round_trip(value: Data) -> None:
    """Whatever the simulator can encode, the client decodes to the same tagged value."""
    assert Data.decode(value.encode()) == value


@FAST
@given(
    st.integers(0, 0x3FFF),
    st.integers(0, 0x3FFF),
    st.integers(0, 127),
    st.integers(0, 255),
    st.binary(max_size=120),
    st.booleans(),
)
def test_frame_round_trip(
    logical: int, physical: int, sap: int, control: int, info: bytes, segmented: bool
) -> None:
    """Frames with 4-byte addresses round-trip through the deframer byte by byte."""
    if (
        control & 1
        and control & 0x0F not in (1, 5)
        and control & 0xEF
        not in (
            0x83,
            0x43,
            0x63,
            0x0F,
            0x87,
            0x03,
        )
    ):
        control = 0x10
    frame = HdlcFrame(
        ServerAddress(logical, physical, 4), client_address(sap), control, info, segmented
    )
    deframer = Deframer()
    deframer.feed(frame.encode())
    assert deframer.next_event() == frame


@FAST
@given(st.binary(min_size=1, max_size=255))
def test_password_is_always_masked(password: bytes) -> None:
    """Any LLS password, whatever its bytes, is masked in the trace of its AARQ."""
    aarq = Aarq(Mechanism.LOW, password).encode()
    frame = HdlcFrame(ServerAddress(1), client_address(1), 0x10, b"\xe6\xe6\x00" + aarq)
    raw = frame.encode()
    tokens = mask_frame(raw)[0].split()
    end = raw.rindex(b"\xbe\x10\x04\x0e")  # user-information follows the password
    assert tokens[end - len(password) : end] == ["**"] * len(password)
    assert len(tokens) == len(raw)
