"""The reference client: gurux-dlms driven the way its example reader (GXDLMSReader) reads.

The example connects (SNRM/UA, AARQ/AARE), reads each requested attribute with one GET
(``reader.read(obj, attribute)``: here attribute 3, scaler_unit, then attribute 2, value, of
every register, as its register read-out does), and closes with DISC only (it sends RLRQ only
for wrapper or ciphered connections). Its media is a blocking socket; this driver reads the
socket directly, which is never slower than the example's GXNet media.
"""

from __future__ import annotations

from collections.abc import Sequence
import socket
import time
from typing import Any

from gurux_dlms import GXByteBuffer, GXReplyData
from gurux_dlms.enums import Authentication, InterfaceType
from gurux_dlms.objects import GXDLMSRegister
from gurux_dlms.secure import GXDLMSSecureClient

from custom_components.microstar_dlms.dlms import Obis

RECEIVE_TIMEOUT = 5.0  # the example's waitTime


def _logical_name(register: str) -> str:
    """``1-1:32.7.0`` as gurux writes it: ``1.1.32.7.0.255``."""
    return ".".join(str(b) for b in Obis.parse(register).to_bytes())


class GuruxReader:
    """One poll per call: connect, read scaler and value of each register, disconnect."""

    def __init__(
        self, host: str, port: int, registers: Sequence[str], client_sap: int, password: str
    ) -> None:
        """Read ``registers`` from the meter behind ``host:port``."""
        self.host = host
        self.port = port
        self.logical_names = [_logical_name(r) for r in registers]
        self.client_sap = client_sap
        self.password = password
        self.values: dict[str, Any] = {}

    def poll(self) -> float:
        """One blocking poll; return its wall time in seconds."""
        started = time.monotonic()
        client = GXDLMSSecureClient(
            True, self.client_sap, 1, Authentication.LOW, self.password, InterfaceType.HDLC
        )
        registers = [GXDLMSRegister(name) for name in self.logical_names]
        with socket.create_connection((self.host, self.port), RECEIVE_TIMEOUT) as sock:
            sock.settimeout(RECEIVE_TIMEOUT)
            # initializeConnection()
            reply = GXReplyData()
            self._packet(sock, client, client.snrmRequest(), reply)
            client.parseUAResponse(reply.data)
            reply.clear()
            self._data_block(sock, client, client.aarqRequest(), reply)
            client.parseAareResponse(reply.data)
            # read(obj, 3) and read(obj, 2) per register
            for register in registers:
                for attribute in (3, 2):
                    reply = GXReplyData()
                    self._data_block(sock, client, client.read(register, attribute)[0], reply)
                    client.updateValue(register, attribute, reply.value)
                self.values[register.logicalName] = register.value
            # close(): no RLRQ over HDLC without ciphering, then DISC
            self._packet(sock, client, client.disconnectRequest(), GXReplyData())
        return time.monotonic() - started

    def _data_block(self, sock: socket.socket, client: Any, data: Any, reply: Any) -> None:
        """The example's readDataBlock: one request, then RR while the reply has more data."""
        if isinstance(data, list):
            for item in data:
                reply.clear()
                self._data_block(sock, client, item, reply)
            return
        self._packet(sock, client, data, reply)
        while reply.isMoreData():
            self._packet(sock, client, client.receiverReady(reply), reply)

    @staticmethod
    def _packet(sock: socket.socket, client: Any, data: Any, reply: Any) -> None:
        """The example's readDLMSPacket2: send, then receive until gurux has a whole frame."""
        if not data:
            return
        reply.error = 0
        notify = GXReplyData()
        sock.sendall(bytes(data))
        received = GXByteBuffer()
        while not client.getData(received, reply, notify):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            received.set(chunk)
        if reply.error:
            raise RuntimeError(f"gurux reply error {reply.error}")
