"""Trace records and password masking."""

import gc

import pytest

from custom_components.microstar_dlms.dlms.apdu import Aarq, Mechanism, add_llc
from custom_components.microstar_dlms.dlms.hdlc import (
    HdlcFrame,
    HdlcParameters,
    ServerAddress,
    client_address,
    rr_control,
)
from custom_components.microstar_dlms.dlms.hdlc_link import HdlcLink, SendFrame
from custom_components.microstar_dlms.dlms.trace import (
    Direction,
    SessionTrace,
    TraceRecord,
    aarq_password_span,
    mask_frame,
)

from .vectors import AARQ_LLS_10, DISC_1BYTE, GET_31_7_0_ATTR2, SNRM_1BYTE


def test_field_aarq_password_masked() -> None:
    """The 10 password bytes become ** and nothing else changes."""
    text, summary = mask_frame(AARQ_LLS_10)
    assert "AC 0C 80 0A ** ** ** ** ** ** ** ** ** ** BE" in text
    assert text.replace("** ", "").count(" ") == len(AARQ_LLS_10) - 10 - 1
    assert summary.startswith("I N(S)=0 N(R)=0")


def test_other_frames_untouched() -> None:
    """SNRM and GET show in full."""
    assert mask_frame(SNRM_1BYTE)[0] == SNRM_1BYTE.hex(" ").upper()
    assert mask_frame(GET_31_7_0_ATTR2)[0] == GET_31_7_0_ATTR2.hex(" ").upper()


def test_password_cut_by_segmentation_is_masked_in_every_segment() -> None:
    """A 200-byte password spans two 128-byte segments; no segment shows any of it."""
    password = bytes(range(65, 91)) * 7 + b"xyz"
    password = password[:200]
    link = HdlcLink(ServerAddress(1), 1)
    link.connect()
    link.receive(HdlcFrame(client_address(1), ServerAddress(1), 0x73))
    first = link.send(add_llc(Aarq(Mechanism.LOW, password).encode()))
    frames = [first]
    link.receive(HdlcFrame(client_address(1), ServerAddress(1), 0x31))  # RR N(R)=1
    frames.append(link._last_sent)
    for frame in frames:
        text, _ = mask_frame(frame, password)
        raw_info = bytes.fromhex(text.replace("**", "00"))
        for size in (8, 16):
            for start in range(len(password) - size):
                assert password[start : start + size] not in raw_info


def test_span_of_a_non_aarq_is_none() -> None:
    """Only AARQs carry a password."""
    assert aarq_password_span(b"\xe6\xe6\x00\xc0\x01") is None
    assert aarq_password_span(b"\xe6\xe6\x00\x60\xff") is None


def test_record_text() -> None:
    """Direction, monotonic time, hex, summary; a note replaces the frame's own summary."""
    record = TraceRecord(Direction.TX, 1.5, SNRM_1BYTE)
    assert str(record) == f"TX 1.500000 {SNRM_1BYTE.hex(' ').upper()}  ({record.summary})"
    assert record.summary.startswith("SNRM")
    noise = TraceRecord(Direction.RX, 2.0, b"\x00\x7e", note="not HDLC")
    assert str(noise) == "RX 2.000000 00 7E  (not HDLC)"
    assert noise.shown() == {
        "direction": "RX",
        "monotonic": 2.0,
        "hex": "00 7E",
        "summary": "not HDLC",
    }


def test_record_masks_when_shown_and_never_shows_raw_bytes() -> None:
    """The bytes are kept as sent; every way of showing the record masks the password."""
    password = AARQ_LLS_10[AARQ_LLS_10.index(b"\xac\x0c\x80\x0a") + 4 :][:10]
    record = TraceRecord(Direction.TX, 3.0, AARQ_LLS_10, secret=password)
    for shown in (str(record), repr(record), record.hex, str(record.shown())):
        assert password.hex(" ").upper() not in shown.upper()
        assert password.hex().upper() not in shown.upper().replace(" ", "")
    assert "** ** **" in record.hex
    assert repr(record) == f"TraceRecord(TX, 3.000000, {len(AARQ_LLS_10)} bytes)"


@pytest.mark.parametrize("max_info", [2, 5, 8, 13])
def test_segments_inside_a_long_password_are_masked(max_info: int) -> None:
    """Negotiated frames shorter than the password: no segment shows any of it."""
    password = b"Lw3#Yq9!Zr5%Tb8&Kd2@Xn6*Hs4^Pv7~"
    link = HdlcLink(ServerAddress(1), 1)
    link.connect()
    ua_info = HdlcParameters(max_info, max_info).encode()
    link.receive(HdlcFrame(client_address(1), ServerAddress(1), 0x73, ua_info))
    frames = [link.send(add_llc(Aarq(Mechanism.LOW, password).encode()))]
    for n in range(1, 200):
        event = link.receive(HdlcFrame(client_address(1), ServerAddress(1), rr_control(n % 8)))
        if not isinstance(event, SendFrame):
            break
        frames.append(event.data)
    shown = b"".join(bytes.fromhex(mask_frame(f, password)[0].replace("**", "00")) for f in frames)
    for start in range(len(password) - 1):
        assert password[start : start + 2] not in shown


def test_echo_split_at_a_flag_in_the_password_is_masked() -> None:
    """RX noise holding the tail of a password after its '~' (0x7E) byte is masked too."""
    secret = b"Qz7~K#p!X9vR"
    noise = b"\xe6\xe6" + secret[4:] + b"\xbe\x10"
    text, _ = mask_frame(noise, secret)
    assert text.split()[2:10] == ["**"] * 8
    assert "E6 E6" in text


def _session_records(password: bytes) -> list[TraceRecord]:
    """The records of a short session: SNRM, its noise, the AARQ, a GET, a DISC."""
    return [
        TraceRecord(Direction.TX, 1.0, SNRM_1BYTE, secret=password),
        TraceRecord(Direction.RX, 1.25, b"\x00\x7e", note="not HDLC", secret=password),
        TraceRecord(Direction.TX, 1.5, AARQ_LLS_10, secret=password),
        TraceRecord(Direction.TX, 2.0, GET_31_7_0_ATTR2, secret=password),
        TraceRecord(Direction.TX, 2.5, DISC_1BYTE),
    ]


def test_session_trace_gives_back_each_record_as_it_was_kept() -> None:
    """Each record reads back as it was kept: direction, time, bytes, note, password masked."""
    password = AARQ_LLS_10[AARQ_LLS_10.index(b"\xac\x0c\x80\x0a") + 4 :][:10]
    records = _session_records(password)
    trace = SessionTrace()
    for record in records:
        trace.append(record)
    assert len(trace) == len(records)
    assert [str(r) for r in trace] == [str(r) for r in records]
    assert [r.shown() for r in trace[1:3]] == [r.shown() for r in records[1:3]]
    assert str(trace[-1]) == str(records[-1])
    assert "** ** **" in trace[2].hex
    assert password.hex().upper() not in repr(trace).upper()
    kept = trace.copy()
    trace.clear()
    assert len(trace) == 0
    assert [str(r) for r in kept] == [str(r) for r in records]
    with pytest.raises(IndexError):
        trace[0]


def _tracked_parts(root: object) -> int:
    """Objects the garbage collector tracks reachable from ``root`` (classes aside)."""
    seen = {id(root)}
    stack = [root]
    while stack:
        for part in gc.get_referents(stack.pop()):
            if gc.is_tracked(part) and not isinstance(part, type) and id(part) not in seen:
                seen.add(id(part))
                stack.append(part)
    return len(seen)


def test_session_trace_keeps_no_object_per_record_for_the_garbage_collector() -> None:
    """A learning poll's hundreds of frames cost the collector what one frame does (each
    record kept as an object was walked by every full collection)."""
    traces = {size: SessionTrace() for size in (1, 500)}
    for size, trace in traces.items():
        for n in range(size):
            for record in _session_records(b"0123456789"):
                record.monotonic += n
                trace.append(record)
    gc.collect()  # tuples of bytes and text are untracked by a collection
    assert len(traces[500]) == 2_500
    assert _tracked_parts(traces[500]) == _tracked_parts(traces[1]) < 10
