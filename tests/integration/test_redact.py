"""The serial number's stand-in: derived, of the same shape, and put wherever the serial was."""

from custom_components.microstar_dlms.dlms.hdlc import (
    HdlcFrame,
    ServerAddress,
    client_address,
    decode_frame,
    i_control,
)
from custom_components.microstar_dlms.dlms.trace import Direction, TraceRecord
from custom_components.microstar_dlms.redact import REDACTED, Redaction, stand_in_serial

SERIAL = "21069876"
METER = ServerAddress(1)


def test_stand_in_is_derived_and_keeps_the_shape() -> None:
    """The same serial always gets the same stand-in; digits stay digits, letters letters,
    the rest as it was; never the serial itself."""
    assert stand_in_serial(SERIAL) == stand_in_serial(SERIAL)
    assert stand_in_serial(SERIAL) != SERIAL
    assert stand_in_serial(SERIAL).isdigit()
    assert len(stand_in_serial(SERIAL)) == len(SERIAL)
    shaped = stand_in_serial("MSE-21069876")
    assert shaped[:3].isupper()
    assert shaped[3] == "-"
    assert shaped[4:].isdigit()
    assert stand_in_serial("--") != "--"


def test_text_forms_of_the_serial_are_replaced_with_the_same_forms() -> None:
    """As text and as hex in any spacing or case; the password is redacted beside it."""
    redaction = Redaction("0123456789", SERIAL)
    stand_in = redaction.stand_in
    assert stand_in is not None
    raw, shown = SERIAL.encode(), stand_in.encode()
    text = f"{SERIAL} {raw.hex()} {raw.hex(' ').upper()} 0123456789"
    assert redaction.text(text) == f"{stand_in} {shown.hex()} {shown.hex(' ').upper()} {REDACTED}"
    assert redaction.value({"a": [SERIAL, 3], "b": None}) == {"a": [stand_in, 3], "b": None}
    assert redaction.serial_shown(SERIAL) == stand_in
    assert redaction.serial_shown("another") == "another"


def test_a_short_serial_is_replaced_in_its_own_fields_only() -> None:
    """Four characters could be part of any value: text is left alone."""
    redaction = Redaction(None, "1234")
    assert redaction.serial_shown("1234") != "1234"
    assert redaction.text("12345.6 kWh") == "12345.6 kWh"


def test_serial_cut_by_segmentation_is_replaced_in_both_segments() -> None:
    """A GET answer whose serial lies across two segments: both carry the stand-in's bytes and
    decode (their FCS made right); the frame between them (the client's RR) is left as is."""
    answer = bytes.fromhex("E6E700C401C100090C") + b"MSE-" + SERIAL.encode()
    cut = len(answer) - 5
    first = HdlcFrame(client_address(1), METER, i_control(1, 2), answer[:cut], segmented=True)
    rr = HdlcFrame(METER, client_address(1), 0x51)
    second = HdlcFrame(client_address(1), METER, i_control(2, 2), answer[cut:])
    records = [
        TraceRecord(Direction.RX, 1.0, first.encode()),
        TraceRecord(Direction.TX, 1.1, rr.encode()),
        TraceRecord(Direction.RX, 1.2, second.encode()),
    ]
    frames = Redaction(None, SERIAL).frames(records)
    decoded = [decode_frame(bytes.fromhex(frame["hex"])) for frame in frames]
    stand_in = stand_in_serial(SERIAL).encode()
    assert decoded[0].information + decoded[2].information == answer.replace(
        SERIAL.encode(), stand_in
    )
    assert decoded[1] == rr
    assert frames[0]["summary"] == records[0].summary


def test_serial_in_bytes_that_are_no_frame_is_replaced() -> None:
    """Noise on the line (a gateway's text, an echo) is searched whole."""
    noise = TraceRecord(Direction.RX, 2.0, f"meter {SERIAL}\r\n".encode(), note="not HDLC")
    (frame,) = Redaction(None, SERIAL).frames([noise])
    assert bytes.fromhex(frame["hex"]) == f"meter {stand_in_serial(SERIAL)}\r\n".encode()
    assert frame["summary"] == "not HDLC"
