"""CRC-16/X.25 as the meter computes it."""

from custom_components.microstar_dlms.dlms.crc import crc16_x25, crc_bytes

from .vectors import SNRM_1BYTE, SNRM_2BYTE


def test_check_value() -> None:
    """The catalogue check value of CRC-16/X.25 for '123456789'."""
    assert crc16_x25(b"123456789") == 0x906E


def test_field_hcs_is_little_endian_on_the_wire() -> None:
    """SNRM 7E A0 07 03 03 93 8C 11 7E: the FCS over A0..93 is 8C 11."""
    assert crc_bytes(SNRM_1BYTE[1:6]) == bytes.fromhex("8C11")
    assert crc_bytes(SNRM_2BYTE[1:7]) == bytes.fromhex("0577")


def test_residue_of_a_frame_with_its_crc() -> None:
    """Running the CRC over data plus its own CRC gives the X.25 good-frame residue."""
    body = SNRM_2BYTE[1:-1]
    assert crc16_x25(body) ^ 0xFFFF == 0xF0B8
