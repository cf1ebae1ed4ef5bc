"""Decoder throughput (part 4): deframing and decoding typical GET responses, pure CPU."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
import time
from typing import Any

from custom_components.microstar_dlms.dlms.apdu import (
    GetResponseNormal,
    GetResponseWithList,
    add_llc,
    decode_apdu,
    strip_llc,
)
from custom_components.microstar_dlms.dlms.axdr import Data, DataType
from custom_components.microstar_dlms.dlms.hdlc import (
    Deframer,
    HdlcFrame,
    ServerAddress,
    client_address,
    i_control,
)
from custom_components.microstar_dlms.dlms.trace import mask_frame

CLIENT_SAP = 1


def response_frame(apdu: bytes) -> bytes:
    """An I-frame from meter (logical 1, 1-byte address) to client SAP 1 carrying ``apdu``."""
    frame = HdlcFrame(
        client_address(CLIENT_SAP), ServerAddress(1), i_control(3, 4), add_llc(apdu, response=True)
    )
    return frame.encode()


def typical_frames() -> dict[str, bytes]:
    """What a poll receives: one register value; the eleven values as one GET-with-list answer."""
    voltage = GetResponseNormal(0xC1, Data(DataType.LONG_UNSIGNED, 23001)).encode()
    values = tuple(
        Data(DataType.DOUBLE_LONG_UNSIGNED, 12_345_678 + i)
        if i < 3
        else Data(DataType.LONG_UNSIGNED, 23_000 + i)
        for i in range(11)
    )
    listed = GetResponseWithList(0xC1, values).encode()
    return {
        "get_response": response_frame(voltage),
        "get_with_list_response_11": response_frame(listed),
    }


def decode_stream(frame: bytes, count: int) -> Any:
    """Feed ``count`` copies as they arrive (one read each), deframe, decode, untag the value."""
    deframer = Deframer()
    value: Any = None
    for _ in range(count):
        deframer.feed(frame)
        event = deframer.next_event()
        assert isinstance(event, HdlcFrame)
        apdu = decode_apdu(strip_llc(event.information, response=True))
        if isinstance(apdu, GetResponseNormal):
            value = apdu.result.to_python() if isinstance(apdu.result, Data) else apdu.result
        elif isinstance(apdu, GetResponseWithList):
            value = [r.to_python() for r in apdu.results if isinstance(r, Data)]
    return value


def _rate(work: Callable[[int], object], count: int, repeats: int) -> float:
    """Best-of-``repeats`` seconds per item."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work(count)
        best = min(best, (time.perf_counter() - started) / count)
    return best


def decoder_throughput(count: int, repeats: int = 3) -> dict[str, Any]:
    """Frames per second for deframing + decoding, and the cost of showing one traced frame."""
    result: dict[str, Any] = {}
    for name, frame in typical_frames().items():
        per_frame = _rate(partial(decode_stream, frame), count, repeats)
        result[name] = {
            "frame_bytes": len(frame),
            "frames_per_s": round(1 / per_frame),
            "us_per_frame": round(per_frame * 1e6, 2),
        }
    get = typical_frames()["get_response"]
    per_trace = _rate(
        lambda n: [mask_frame(get, b"2222222222") for _ in range(n)], max(1, count // 4), repeats
    )
    result["trace_record_us_per_frame"] = round(per_trace * 1e6, 2)
    result["frames"] = count
    result["repeats"] = repeats
    return result
