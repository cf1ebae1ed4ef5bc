"""HDLC addresses, frames, SNRM/UA parameters and the stream deframer."""

import pytest

from custom_components.microstar_dlms.dlms.errors import FrameError
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    FrameKind,
    HdlcFrame,
    HdlcParameters,
    Noise,
    ServerAddress,
    client_address,
    decode_frame,
    disc_frame,
    dm_frame,
    i_control,
    rr_control,
    snrm_frame,
    ua_frame,
)

from .vectors import (
    AARQ_LLS_10,
    AARQ_VENDOR_NO_AUTH,
    DISC_1BYTE,
    DISC_2BYTE,
    GET_31_7_0_ATTR2,
    SNRM_1BYTE,
    SNRM_2BYTE,
    SNRM_4BYTE_17_CLIENT16,
    SNRM_4BYTE_1234,
    SNRM_MALFORMED,
    UA_VENDOR,
)


@pytest.mark.parametrize(
    ("server", "client", "snrm", "disc"),
    [
        (ServerAddress(1), 1, SNRM_1BYTE, DISC_1BYTE),
        (ServerAddress(1, 1, 2), 1, SNRM_2BYTE, DISC_2BYTE),
    ],
)
def test_field_snrm_and_disc(server: ServerAddress, client: int, snrm: bytes, disc: bytes) -> None:
    """The SNRM/DISC the field team sent, for 1- and 2-byte server addresses."""
    assert snrm_frame(server, client).encode() == snrm
    assert disc_frame(server, client).encode() == disc
    assert decode_frame(snrm) == snrm_frame(server, client)
    assert decode_frame(disc).kind is FrameKind.DISC


def test_four_byte_address_for_serial_number_default() -> None:
    """Physical 1234 (serial …1234) only fits the 4-byte form: 00 02 12 A5."""
    server = ServerAddress(1, 1234, 4)
    assert server.encode() == bytes.fromhex("000212A5")
    assert snrm_frame(server, 1).encode() == SNRM_4BYTE_1234
    assert snrm_frame(ServerAddress(1, 17, 4), 16).encode() == SNRM_4BYTE_17_CLIENT16


def test_physical_above_127_rejected_in_two_bytes() -> None:
    """The old reader's (logical << 7) | physical overflowed; we refuse instead."""
    with pytest.raises(FrameError, match="4-byte"):
        ServerAddress(1, 1234, 2)
    with pytest.raises(FrameError):
        ServerAddress(1, 5, 1)
    with pytest.raises(FrameError):
        ServerAddress(0x4000, 1, 4)


@pytest.mark.parametrize(
    "address",
    [
        ServerAddress(1),
        ServerAddress(127),
        ServerAddress(1, 127, 2),
        ServerAddress(0x3FFF, 0x3FFF, 4),
    ],
)
def test_address_round_trip(address: ServerAddress) -> None:
    """Every size decodes back to itself."""
    assert ServerAddress.decode(address.encode()) == address


def test_vendor_ua_negotiated_parameters() -> None:
    """The vendor UA: max info 128/128 as 2-byte values, windows 1/1, from physical 17."""
    frame = decode_frame(UA_VENDOR)
    assert frame.kind is FrameKind.UA
    assert frame.source == ServerAddress(1, 17, 4)
    assert frame.destination == client_address(16)
    assert HdlcParameters.decode(frame.information) == HdlcParameters(128, 128, 1, 1)


def test_malformed_snrm_parameter_group_rejected() -> None:
    """The field's SNRM says group length 0x12 while 20 bytes follow: a clear FrameError."""
    frame = decode_frame(SNRM_MALFORMED)  # CRCs are fine, the parameter group is not
    assert frame.kind is FrameKind.SNRM
    with pytest.raises(FrameError, match=r"says 18 \(0x12\) but 20 bytes follow"):
        HdlcParameters.decode(frame.information)


def test_snrm_with_parameters_has_correct_group_length() -> None:
    """Our SNRM parameter group length always matches its contents."""
    params = HdlcParameters(max_info_tx=512, max_info_rx=512, window_tx=1, window_rx=1)
    frame = decode_frame(snrm_frame(ServerAddress(1), 1, params).encode())
    assert frame.information == bytes.fromhex("81 80 08 05 02 02 00 06 02 02 00")
    assert HdlcParameters.decode(frame.information) == params
    assert snrm_frame(ServerAddress(1), 1, HdlcParameters()).encode() == SNRM_1BYTE


def test_ua_round_trip_with_all_parameters() -> None:
    """A server UA carries all four parameters and decodes back."""
    params = HdlcParameters(128, 256, 1, 1)
    frame = decode_frame(ua_frame(1, ServerAddress(1, 1234, 4), params).encode())
    assert HdlcParameters.decode(frame.information) == params


@pytest.mark.parametrize(
    "info",
    [
        bytes.fromhex("82 80 00"),
        bytes.fromhex("81 80 03 05 03 00 00 80"),
        bytes.fromhex("81 80 03 05 01 00"),
        bytes.fromhex("81 80 06 05 01 80 05 01 80"),
        bytes.fromhex("81 80 06 07 04 00 00 00 09"),
        bytes.fromhex("81 80 01 05"),
    ],
)
def test_bad_parameter_groups(info: bytes) -> None:
    """Wrong ids, lengths, duplicates, out-of-range windows are rejected."""
    with pytest.raises(FrameError):
        HdlcParameters.decode(info)


def test_i_frame_control_and_sequence_numbers() -> None:
    """GET with N(S)=4, N(R)=4 has control 0x98."""
    frame = decode_frame(GET_31_7_0_ATTR2)
    assert frame.kind is FrameKind.I
    assert (frame.send_seq, frame.recv_seq, frame.poll_final) == (4, 4, True)
    assert i_control(4, 4) == 0x98
    assert rr_control(5) == 0xB1


def test_flag_inside_frame_hcs() -> None:
    """The vendor AARQ has HCS 7E CB: the length field, not the flag, delimits it."""
    deframer = Deframer()
    deframer.feed(AARQ_VENDOR_NO_AUTH)
    frame = deframer.next_event()
    assert isinstance(frame, HdlcFrame)
    assert frame.information.startswith(bytes.fromhex("E6 E6 00 60 1D"))
    assert deframer.next_event() is None


def test_segmentation_bit_round_trip() -> None:
    """Format A8 marks a segment."""
    frame = HdlcFrame(client_address(1), ServerAddress(1), i_control(0, 1), b"abc", True)
    raw = frame.encode()
    assert raw[1] & 0xF8 == 0xA8
    assert decode_frame(raw) == frame


def test_deframer_skips_noise_and_stale_bytes() -> None:
    """Stale bytes and gateway text before a frame come out as Noise, then the frame."""
    deframer = Deframer()
    deframer.feed(b"Port\r\n" + bytes.fromhex("7E 7E 11") + SNRM_1BYTE + DISC_1BYTE[:4])
    events = []
    while (event := deframer.next_event()) is not None:
        events.append(event)
    noise = b"".join(e.data for e in events if isinstance(e, Noise))
    frames = [e for e in events if isinstance(e, HdlcFrame)]
    assert noise.startswith(b"Port\r\n")
    assert [f.kind for f in frames] == [FrameKind.SNRM]
    deframer.feed(DISC_1BYTE[4:])
    assert deframer.next_event() == decode_frame(DISC_1BYTE)


def test_deframer_byte_by_byte_and_shared_flags() -> None:
    """Frames sharing a flag and arriving one byte at a time."""
    stream = SNRM_1BYTE + DISC_1BYTE[1:] + AARQ_LLS_10
    deframer = Deframer()
    frames = []
    for byte in stream:
        deframer.feed(bytes([byte]))
        while (event := deframer.next_event()) is not None:
            assert isinstance(event, HdlcFrame)
            frames.append(event.kind)
    assert frames == [FrameKind.SNRM, FrameKind.DISC, FrameKind.I]


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda f: f[:-3] + bytes([f[-3] ^ 1]) + f[-2:], "FCS"),
        (lambda f: f[:7] + bytes([f[7] ^ 1]) + f[8:], "HCS"),
        (lambda f: f[:2] + bytes([f[2] + 1]) + f[3:], "closing flag|HCS"),
    ],
)
def test_deframer_rejects_bad_crc_and_length_then_resyncs(corrupt, message: str) -> None:
    """A bad frame raises FrameError; the next good frame still comes through."""
    deframer = Deframer()
    deframer.feed(corrupt(AARQ_LLS_10) + SNRM_1BYTE)
    errors = []
    frames = []
    for _ in range(200):
        try:
            event = deframer.next_event()
        except FrameError as err:
            errors.append(str(err))
            continue
        if event is None:
            break
        if isinstance(event, HdlcFrame):
            frames.append(event)
    assert errors
    assert any(m in errors[0] for m in message.split("|"))
    assert frames == [decode_frame(SNRM_1BYTE)]


def test_fcs_cannot_reveal_a_wrong_address() -> None:
    """Once the HCS is valid the FCS depends only on the information field (field notes §4)."""
    info = b"\xe6\xe6\x00\xc0\x01\xc1"
    one = HdlcFrame(ServerAddress(1), client_address(1), 0x10, info).encode()
    two = HdlcFrame(ServerAddress(1, 1, 2), client_address(1), 0x10, info).encode()
    assert one[-3:-1] == two[-3:-1]
    assert one[1:-3] != two[1:-3]


def test_dm_and_describe() -> None:
    """DM answers a DISC when not connected; describe() is one readable line."""
    frame = decode_frame(dm_frame(1, ServerAddress(1)).encode())
    assert frame.kind is FrameKind.DM
    assert "DM" in frame.describe()
    assert "N(S)=4 N(R)=4" in decode_frame(GET_31_7_0_ATTR2).describe()


def test_decode_frame_rejects_unknown_control_and_short_frames() -> None:
    """Unknown control, short length, 3-byte address."""
    with pytest.raises(FrameError):
        decode_frame(HdlcFrame(ServerAddress(1), client_address(1), 0x0B).encode())
    with pytest.raises(FrameError):
        decode_frame(bytes.fromhex("7E A0 03 03 7E"))
    with pytest.raises(FrameError):
        ServerAddress.decode(bytes.fromhex("02 02 03"))
