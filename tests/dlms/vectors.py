"""Byte-exact frames from the field notes (../shared/docs/field-notes.md §4)."""


def hexbytes(text: str) -> bytes:
    """Bytes from spaced hex as written in the field notes."""
    return bytes.fromhex(text)


SNRM_1BYTE = hexbytes("7E A0 07 03 03 93 8C 11 7E")
DISC_1BYTE = hexbytes("7E A0 07 03 03 53 80 D7 7E")
GET_31_7_0_ATTR2 = hexbytes(
    "7E A0 19 03 03 98 BC C2 E6 E6 00 C0 01 C1 00 03 01 01 1F 07 00 FF 02 00 09 E6 7E"
)
GET_32_7_0_ATTR3 = hexbytes(
    "7E A0 19 03 03 32 EC C8 E6 E6 00 C0 01 C1 00 03 01 01 20 07 00 FF 03 00 88 05 7E"
)
SCALER_UNIT_INFO = hexbytes("E6 E7 00 C4 01 01 00 02 02 0F FD 16 21")
SCALER_UNIT_FCS = hexbytes("4D C0")
AARQ_LLS_10 = hexbytes(
    "7E A0 46 03 03 10 13 AD E6 E6 00 60 38 A1 09 06 07 60 85 74 05 08 01 01 8A 02 07 80 8B 07"
    " 60 85 74 05 08 02 01 AC 0C 80 0A 30 31 32 33 34 35 36 37 38 39 BE 10 04 0E 01 00 00 00"
    " 06 5F 1F 04 00 00 30 1D FF FF DA DF 7E"
)
SNRM_2BYTE = hexbytes("7E A0 08 02 03 03 93 05 77 7E")
DISC_2BYTE = hexbytes("7E A0 08 02 03 03 53 09 B1 7E")
SNRM_4BYTE_1234 = hexbytes("7E A0 0A 00 02 12 A5 03 93 79 41 7E")
SNRM_4BYTE_17_CLIENT16 = hexbytes("7E A0 0A 00 02 00 23 21 93 18 71 7E")
UA_VENDOR = hexbytes(
    "7E A0 23 21 00 02 00 23 73 F6 C5 81 80 14 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04"
    " 00 00 00 01 CE 6A 7E"
)
AARQ_VENDOR_NO_AUTH = hexbytes(
    "7E A0 2E 00 02 00 23 21 10 7E CB E6 E6 00 60 1D A1 09 06 07 60 85 74 05 08 01 01 BE 10 04"
    " 0E 01 00 00 00 06 5F 1F 04 00 00 30 1D FF FF D4 C5 7E"
)
SNRM_MALFORMED = hexbytes(
    "7E A0 21 02 03 03 93 F0 46 81 80 12 05 02 00 80 06 02 00 80 07 04 00 00 00 01 08 04 00 00"
    " 00 01 A6 D9 7E"
)
