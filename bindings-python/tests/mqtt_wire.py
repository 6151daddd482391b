"""A scripted MQTT 5 server on a thread that records every packet a client sends, and a
reader for their fields and properties: to check what reaches the wire, which a broker
such as Mosquitto does not show to another client (CONNECT options, subscribe and
disconnect properties, topic aliases)."""

from __future__ import annotations

import queue
import socket
import threading
from typing import Any, Dict, List, Optional, Tuple

from conftest import EVENT_TIMEOUT

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 8, 9, 10, 11
PINGREQ, PINGRESP, DISCONNECT, AUTH = 12, 13, 14, 15

# Property identifier -> how its value is encoded (MQTT 5, section 2.2.2.2).
_PROPERTY_TYPES = {
    0x01: "byte", 0x02: "u32", 0x03: "text", 0x08: "text", 0x09: "binary", 0x0B: "varint",
    0x11: "u32", 0x15: "text", 0x16: "binary", 0x17: "byte", 0x18: "u32", 0x19: "byte",
    0x1C: "text", 0x1F: "text", 0x21: "u16", 0x22: "u16", 0x23: "u16", 0x26: "pair", 0x27: "u32",
}


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def text(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + varint(len(body)) + body


class Reader:
    """Reads the fields of one packet body in order."""

    def __init__(self, kind: int, flags: int, body: bytes) -> None:
        self.kind, self.flags, self.data, self.pos = kind, flags, body, 0

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        self.pos += 2
        return int.from_bytes(self.data[self.pos - 2 : self.pos], "big")

    def u32(self) -> int:
        self.pos += 4
        return int.from_bytes(self.data[self.pos - 4 : self.pos], "big")

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def binary(self) -> bytes:
        length = self.u16()
        self.pos += length
        return self.data[self.pos - length : self.pos]

    def text(self) -> str:
        return self.binary().decode()

    def properties(self) -> Dict[int, List[Any]]:
        """The properties at this point: identifier -> values (in order)."""
        end = self.varint() + self.pos
        found: Dict[int, List[Any]] = {}
        while self.pos < end:
            identifier = self.varint()
            kind = _PROPERTY_TYPES[identifier]
            value: Any = (self.text(), self.text()) if kind == "pair" else getattr(self, kind)()
            found.setdefault(identifier, []).append(value)
        return found

    def rest(self) -> bytes:
        self.pos, start = len(self.data), self.pos
        return self.data[start:]

    @property
    def at_end(self) -> bool:
        return self.pos == len(self.data)


class ScriptedServer:
    """Accepts connections one after another on 127.0.0.1 (ephemeral port) and answers as a
    minimal MQTT 5 broker: CONNACK (with ``connack_properties``), SUBACK granting what was
    asked, UNSUBACK, PUBACK, PINGRESP; AUTH Re-authenticate gets AUTH Continue (data
    ``b"challenge"``), AUTH Continue gets AUTH Success. Every packet received is recorded."""

    def __init__(self, connack_properties: bytes = b"") -> None:
        self.connack_properties = connack_properties
        self.received: "queue.Queue[Reader]" = queue.Queue()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self._connection: Optional[socket.socket] = None
        self._thread = threading.Thread(target=self._serve, name="scripted-mqtt", daemon=True)
        self._thread.start()

    def next(self, kind: int, timeout: float = EVENT_TIMEOUT) -> Reader:
        """The next recorded packet of type ``kind`` (others before it are skipped)."""
        while True:
            try:
                found = self.received.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no packet of type {kind} within {timeout} s") from None
            if found.kind == kind:
                return found

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept()
        except OSError:
            pass
        self._listener.close()
        connection = self._connection
        if connection is not None:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(EVENT_TIMEOUT)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._connection = connection
            with connection:
                self._answer_all(connection)
            self._connection = None

    def _answer_all(self, connection: socket.socket) -> None:
        stream = connection.makefile("rb")
        while True:
            header = stream.read(1)
            if not header:
                return
            length, shift = 0, 0
            while True:
                byte = stream.read(1)[0]
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            body = stream.read(length)
            self.received.put(Reader(header[0] >> 4, header[0] & 0x0F, body))
            answer = self._answer(Reader(header[0] >> 4, header[0] & 0x0F, body))
            if answer is None:
                return
            try:
                connection.sendall(answer)
            except OSError:
                return

    def _answer(self, request: Reader) -> Optional[bytes]:
        if request.kind == CONNECT:
            return packet(0x20, b"\x00\x00" + varint(len(self.connack_properties)) + self.connack_properties)
        if request.kind == SUBSCRIBE:
            packet_id = request.data[:2]
            request.u16()
            request.properties()
            granted = bytearray()
            while not request.at_end:
                request.text()
                granted.append(request.byte() & 0x03)
            return packet(0x90, packet_id + b"\x00" + bytes(granted))
        if request.kind == UNSUBSCRIBE:
            packet_id = request.data[:2]
            request.u16()
            request.properties()
            count = 0
            while not request.at_end:
                request.text()
                count += 1
            return packet(0xB0, packet_id + b"\x00" + b"\x00" * count)
        if request.kind == PUBLISH and (request.flags >> 1) & 3 == 1:
            topic_length = int.from_bytes(request.data[:2], "big")
            return packet(0x40, request.data[2 + topic_length : 4 + topic_length] + b"\x00")
        if request.kind == PINGREQ:
            return b"\xd0\x00"
        if request.kind == AUTH:
            reason = request.byte()
            method = request.properties()[0x15][0]
            if reason == 0x19:
                properties = b"\x15" + text(method) + b"\x16" + text("challenge")
                return packet(0xF0, b"\x18" + varint(len(properties)) + properties)
            properties = b"\x15" + text(method)
            return packet(0xF0, b"\x00" + varint(len(properties)) + properties)
        if request.kind == DISCONNECT:
            return None
        return b""


def subscriptions(subscribe: Reader) -> List[Tuple[str, int]]:
    """The (filter, options byte) pairs of a SUBSCRIBE whose header and properties were read."""
    found = []
    while not subscribe.at_end:
        found.append((subscribe.text(), subscribe.byte()))
    return found


def filters(unsubscribe: Reader) -> List[str]:
    """The filters of an UNSUBSCRIBE whose header and properties were read."""
    found = []
    while not unsubscribe.at_end:
        found.append(unsubscribe.text())
    return found
