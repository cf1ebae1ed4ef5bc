"""CRC-16/X.25 as used for the HDLC HCS and FCS (IEC 62056-46, RFC 1662)."""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc16_x25(data: bytes | bytearray | memoryview) -> int:
    """Return the CRC-16/X.25 of ``data`` (reflected, init and xorout 0xFFFF)."""
    crc = 0xFFFF
    for byte in bytes(data):
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """Return the CRC of ``data`` as it goes on the wire (least significant byte first)."""
    return crc16_x25(data).to_bytes(2, "little")
