"""The field team's captures (field notes 4), byte for byte, against the field meter replayed
from its diagnostics file: it answers them as the captured meter did."""

from custom_components.microstar_dlms.dlms.apdu import (
    LLC_REQUEST,
    Aare,
    AttributeRef,
    Conformance,
    GetRequestNormal,
    GetResponseNormal,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    HdlcFrame,
    ServerAddress,
    client_address,
    decode_frame,
    i_control,
)
from custom_components.microstar_dlms.dlms.obis import Obis, Unit
from microstar_sim.line import DirectLine
from microstar_sim.replay import replay_file
from tests.dlms.vectors import (
    AARQ_LLS_10,
    DISC_1BYTE,
    GET_32_7_0_ATTR3,
    SCALER_UNIT_FCS,
    SCALER_UNIT_INFO,
    SNRM_1BYTE,
)

from .harness import DIAGNOSTICS, FIELD

FIELD_METER = FIELD / "field-meter" / DIAGNOSTICS


def _answer(line: DirectLine, request: bytes) -> HdlcFrame:
    """The one frame the meter answers ``request`` with."""
    return decode_frame(line.feed(request))


def _apdu(frame: HdlcFrame) -> object:
    return decode_apdu(strip_llc(frame.information, response=True))


def test_the_replayed_field_meter_answers_the_captured_session() -> None:
    """SNRM and the LLS AARQ with the captured 10-character password (masked in the file:
    any is taken), the captured GET of the voltage's scaler_unit, the current's as the old
    reader asked it (invoke id 01: the captured answer, FCS included), DISC."""
    line = DirectLine.to_meter(replay_file(FIELD_METER))

    assert _answer(line, SNRM_1BYTE).kind is FrameKind.UA
    aare = _apdu(_answer(line, AARQ_LLS_10))
    assert isinstance(aare, Aare)
    assert aare.accepted
    assert aare.initiate is not None
    assert aare.initiate.conformance == Conformance.from_bytes3(bytes.fromhex("00 30 1D"))

    voltage = _apdu(_answer(line, GET_32_7_0_ATTR3))
    assert isinstance(voltage, GetResponseNormal)
    assert voltage.result == Data.structure(
        Data(DataType.INTEGER, -2), Data(DataType.ENUM, int(Unit.VOLT))
    )

    current = GetRequestNormal(0x01, AttributeRef(3, Obis.parse("1-1:31.7.0"), 3))
    information = LLC_REQUEST + current.encode()
    frame = HdlcFrame(ServerAddress(1), client_address(1), i_control(2, 2), information)
    answer = line.feed(frame.encode())
    assert decode_frame(answer).information == SCALER_UNIT_INFO
    assert answer[-3:-1] == SCALER_UNIT_FCS

    assert _answer(line, DISC_1BYTE).kind is FrameKind.UA
