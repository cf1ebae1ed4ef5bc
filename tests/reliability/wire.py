"""Wire material for the reliability suite: field frames, meter answers, hypothesis strategies.

The field frames are the byte-exact vectors of the field notes (§4); the answers are built with
the core's own encoders, as the simulator builds them, so mutations start from what a real
meter sends.
"""

from __future__ import annotations

from hypothesis import strategies as st

from custom_components.microstar_dlms.dlms.apdu import (
    Aare,
    AssociationResult,
    ConfirmedServiceError,
    Conformance,
    ExceptionResponse,
    GetResponseNormal,
    GetResponseWithDatablock,
    GetResponseWithList,
    InitiateResponse,
    Mechanism,
    ReleaseResponse,
    add_llc,
)
from custom_components.microstar_dlms.dlms.axdr import (
    BitString,
    CosemDate,
    CosemDateTime,
    CosemTime,
    Data,
    DataType,
)
from custom_components.microstar_dlms.dlms.errors import DataAccessResult
from custom_components.microstar_dlms.dlms.hdlc import (
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    i_control,
    rr_control,
    unnumbered_control,
)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# -- field notes §4, byte-exact -------------------------------------------------------------------

FIELD_SNRM_1 = _hex("7E A0 07 03 03 93 8C 11 7E")
FIELD_DISC_1 = _hex("7E A0 07 03 03 53 80 D7 7E")
FIELD_GET_31_7_0 = _hex(
    "7E A0 19 03 03 98 BC C2 E6 E6 00 C0 01 C1 00 03 01 01 1F 07 00 FF 02 00 09 E6 7E"
)
FIELD_GET_32_7_0_SCALER = _hex(
    "7E A0 19 03 03 32 EC C8 E6 E6 00 C0 01 C1 00 03 01 01 20 07 00 FF 03 00 88 05 7E"
)
FIELD_AARQ_LLS = _hex(
    "7E A0 46 03 03 10 13 AD E6 E6 00 60 38 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07"
    " 60 85 74 05 08 02 01 AC 0C 80 0A 30 31 32 33 34 35 36 37 38 39 BE 10 04 0E 01 00 00 00 06"
    " 5F 1F 04 00 00 30 1D FF FF DA DF 7E"
)
FIELD_SNRM_2 = _hex("7E A0 08 02 03 03 93 05 77 7E")
FIELD_DISC_2 = _hex("7E A0 08 02 03 03 53 09 B1 7E")
FIELD_SNRM_4 = _hex("7E A0 0A 00 02 12 A5 03 93 79 41 7E")
FIELD_SNRM_VENDOR = _hex("7E A0 0A 00 02 00 23 21 93 18 71 7E")
FIELD_UA_VENDOR = _hex(
    "7E A0 23 21 00 02 00 23 73 F6 C5 81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00"
    " 00 00 01 CE 6A 7E"
)
FIELD_AARQ_VENDOR = _hex(
    "7E A0 2E 00 02 00 23 21 10 7E CB E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04 0E"
    " 01 00 00 00 06 5F 1F 04 00 00 30 1D FF FF D4 C5 7E"
)
FIELD_SNRM_MALFORMED = _hex(
    "7E A0 21 02 03 03 93 F0 46 81 80 12 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00"
    " 00 01 A6 D9 7E"
)
FIELD_SCALER_UNIT_INFO = _hex("E6 E7 00 C4 01 01 00 02 02 0F FD 16 21")

FIELD_FRAMES: tuple[bytes, ...] = (
    FIELD_SNRM_1,
    FIELD_DISC_1,
    FIELD_GET_31_7_0,
    FIELD_GET_32_7_0_SCALER,
    FIELD_AARQ_LLS,
    FIELD_SNRM_2,
    FIELD_DISC_2,
    FIELD_SNRM_4,
    FIELD_SNRM_VENDOR,
    FIELD_UA_VENDOR,
    FIELD_AARQ_VENDOR,
    FIELD_SNRM_MALFORMED,
)

# -- what a meter answers (built with the core's encoders) ------------------------------------

METER = ServerAddress(1)
CLIENT_SAP = 1
FIELD_CONFORMANCE = Conformance.from_bytes3(bytes.fromhex("00301D"))


def scaler_unit(scaler: int, unit: int) -> Data:
    """A scaler_unit structure."""
    return Data.structure(Data(DataType.INTEGER, scaler), Data(DataType.ENUM, unit))


def object_list_entry(class_id: int, obis: bytes) -> Data:
    """One entry of an association object list (rights left empty)."""
    return Data.structure(
        Data(DataType.LONG_UNSIGNED, class_id),
        Data(DataType.UNSIGNED, 0),
        Data.octet_string(obis),
        Data.structure(Data.array(), Data.array()),
    )


SAMPLE_DATA: tuple[Data, ...] = (
    Data(DataType.DOUBLE_LONG_UNSIGNED, 12_345_678),
    Data(DataType.LONG_UNSIGNED, 23_012),
    Data(DataType.DOUBLE_LONG, -5),
    scaler_unit(-2, 35),
    Data.octet_string(b"21061234"),
    Data(DataType.VISIBLE_STRING, "MS-DLMS 2.31"),
    Data(
        DataType.OCTET_STRING,
        CosemDateTime.decode(bytes.fromhex("07E9010F030A000000FF8880")).encode(),
    ),
    Data.array(
        object_list_entry(3, bytes([1, 1, 1, 8, 0, 255])),
        object_list_entry(3, bytes([1, 1, 32, 7, 0, 255])),
        object_list_entry(8, bytes([0, 0, 1, 0, 0, 255])),
    ),
)

_ACCEPTED = Aare(
    AssociationResult.ACCEPTED,
    0,
    initiate=InitiateResponse(FIELD_CONFORMANCE, 512),
    mechanism=Mechanism.LOW,
)

METER_APDUS: tuple[bytes, ...] = (
    _ACCEPTED.encode(),
    Aare(AssociationResult.REJECTED_PERMANENT, 13).encode(),
    Aare(
        AssociationResult.REJECTED_PERMANENT, 1, service_error=ConfirmedServiceError(1, 6, 2)
    ).encode(),
    ReleaseResponse().encode(),
    ExceptionResponse(1, 2).encode(),
    ConfirmedServiceError(5, 5, 3).encode(),
    GetResponseNormal(0xC1, DataAccessResult.OBJECT_UNDEFINED).encode(),
    *(GetResponseNormal(0xC1, data).encode() for data in SAMPLE_DATA),
    GetResponseWithDatablock(0xC1, False, 1, SAMPLE_DATA[-1].encode()[:20]).encode(),
    GetResponseWithDatablock(0xC1, True, 2, SAMPLE_DATA[-1].encode()[20:]).encode(),
    GetResponseWithDatablock(0xC1, True, 1, DataAccessResult.LONG_GET_ABORTED).encode(),
    GetResponseWithList(0xC1, (SAMPLE_DATA[0], DataAccessResult.OBJECT_UNDEFINED)).encode(),
)


def meter_frame(control: int, information: bytes = b"", *, segmented: bool = False) -> bytes:
    """A frame from the meter at logical 1 to client SAP 1."""
    return HdlcFrame(client_address(CLIENT_SAP), METER, control, information, segmented).encode()


METER_FRAMES: tuple[bytes, ...] = (
    meter_frame(
        unnumbered_control(FrameKind.UA),
        HdlcParameters(max_info_tx=128, max_info_rx=128).encode(),
    ),
    meter_frame(unnumbered_control(FrameKind.DM)),
    meter_frame(rr_control(1)),
    *(meter_frame(i_control(0, 1), add_llc(apdu, response=True)) for apdu in METER_APDUS),
)

# -- strategies ---------------------------------------------------------------------------------

MUTATIONS = ("flip", "insert", "delete", "truncate", "duplicate", "replace", "splice")


@st.composite
def mutated(draw: st.DrawFn, seeds: tuple[bytes, ...]) -> bytes:
    """A seed with a few random edits: bit flips, inserted flags, cuts, repeats, splices."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 5))):
        action = draw(st.sampled_from(MUTATIONS))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            data[pos:pos] = draw(
                st.one_of(
                    st.sampled_from([b"\x7e", b"\xa0", b"\x00", b"\xff", b"\x80", b"\x81"]),
                    st.binary(min_size=1, max_size=8),
                )
            )
        elif action == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 4))]
        elif action == "truncate":
            del data[pos:]
        elif action == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 16))]
        elif action == "replace" and data:
            data[pos] = draw(st.integers(0, 255))
        elif action == "splice":
            data += draw(st.sampled_from(seeds))[draw(st.integers(0, 8)) :]
    return bytes(data)


def wire_bytes(seeds: tuple[bytes, ...], max_size: int = 256) -> st.SearchStrategy[bytes]:
    """Random bytes, mutated seeds, or seeds as they are."""
    return st.one_of(
        st.binary(max_size=max_size),
        mutated(seeds),
        st.sampled_from(seeds),
    )


def _leaf_data() -> st.SearchStrategy[Data]:
    ints = {
        DataType.DOUBLE_LONG: (-(2**31), 2**31 - 1),
        DataType.DOUBLE_LONG_UNSIGNED: (0, 2**32 - 1),
        DataType.INTEGER: (-128, 127),
        DataType.LONG: (-(2**15), 2**15 - 1),
        DataType.UNSIGNED: (0, 255),
        DataType.LONG_UNSIGNED: (0, 2**16 - 1),
        DataType.LONG64: (-(2**63), 2**63 - 1),
        DataType.LONG64_UNSIGNED: (0, 2**64 - 1),
        DataType.ENUM: (0, 255),
    }
    return st.one_of(
        st.just(Data(DataType.NULL_DATA)),
        st.booleans().map(lambda b: Data(DataType.BOOLEAN, b)),
        *(
            st.integers(low, high).map(lambda v, t=dtype: Data(t, v))
            for dtype, (low, high) in ints.items()
        ),
        st.binary(max_size=40).map(Data.octet_string),
        st.text(st.characters(max_codepoint=255), max_size=20).map(
            lambda s: Data(DataType.VISIBLE_STRING, s)
        ),
        st.text(max_size=10).map(lambda s: Data(DataType.UTF8_STRING, s)),
        st.floats(width=32, allow_nan=False).map(lambda f: Data(DataType.FLOAT32, f)),
        st.floats(allow_nan=False).map(lambda f: Data(DataType.FLOAT64, f)),
        st.binary(min_size=12, max_size=12).map(
            lambda b: Data(DataType.DATE_TIME, CosemDateTime.decode(b))
        ),
        st.binary(min_size=5, max_size=5).map(lambda b: Data(DataType.DATE, CosemDate.decode(b))),
        st.binary(min_size=4, max_size=4).map(lambda b: Data(DataType.TIME, CosemTime.decode(b))),
        st.integers(0, 40).flatmap(
            lambda bits: st.binary(min_size=(bits + 7) // 8, max_size=(bits + 7) // 8).map(
                lambda raw: Data(DataType.BIT_STRING, BitString(raw, bits))
            )
        ),
    )


def cosem_data() -> st.SearchStrategy[Data]:
    """Well-formed COSEM values, nested in arrays and structures a few levels deep."""
    return st.recursive(
        _leaf_data(),
        lambda children: st.one_of(
            st.lists(children, max_size=6).map(lambda items: Data.array(*items)),
            st.lists(children, max_size=6).map(lambda items: Data.structure(*items)),
        ),
        max_leaves=25,
    )


def data_nodes(data: Data) -> int:
    """How many Data values a decoded tree holds (the decoder's allocation, roughly)."""
    count = 0
    stack = [data]
    while stack:
        item = stack.pop()
        count += 1
        value = item.value
        if isinstance(value, tuple):
            stack.extend(value)
        elif hasattr(value, "elements") and isinstance(getattr(value, "elements", None), tuple):
            stack.extend(e for e in value.elements if isinstance(e, Data))
    return count


def compact_array(zero_size_fields: int, content_bytes: int) -> bytes:
    """A compact-array whose element is a structure of ``zero_size_fields`` null-data fields and
    one unsigned: each content byte becomes ``zero_size_fields + 2`` values."""
    fields = zero_size_fields + 1
    count = bytes([fields]) if fields < 0x80 else b"\x82" + fields.to_bytes(2, "big")
    description = bytes([DataType.STRUCTURE]) + count + bytes(zero_size_fields) + b"\x11"
    length = bytes([0x82]) + content_bytes.to_bytes(2, "big")
    return bytes([DataType.COMPACT_ARRAY]) + description + length + bytes(content_bytes)
