"""The messages between callers and the coordinator (pickled tuples), and their framing.

Caller -> coordinator: ``(HELLO, pid)``; ``(CALL, config, fidelity, trial_key, measured)``
where ``measured`` is ``None`` (the coordinator evaluates the blackbox) or
``(fidelity, objectives, cumulative_runtime)`` from a user function run by the caller.
Coordinator -> caller: ``(WORKER, index)``, ``(RESULT, result_dict)``,
``(FINISHED, message)`` or ``(FAILED, message)``.

Every message is the answer to the other side's last one, so at most one message per
direction is ever in a connection's socket. :func:`send` and :func:`receive` use that: a
message is one ``write`` of its frame and, nearly always, one ``read`` (the framing of
``multiprocessing.connection``: a 4-byte big-endian length, then the pickle). Its
``send_bytes``/``recv_bytes`` read the length and the body separately, through two buffers;
that was a third of a round trip's CPU time at the coordinator.
"""

import os
import pickle
import socket
import struct
from multiprocessing.connection import Connection
from typing import Any

HELLO = "hello"
CALL = "call"
WORKER = "worker"
RESULT = "result"
FINISHED = "finished"
FAILED = "failed"

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")  # after a length of -1 (multiprocessing's large frames)
_READ_SIZE = 1 << 16


class ProtocolError(EOFError):
    """The other side sent something that is not one framed message (treated as gone)."""


def encode(message: tuple) -> bytes:
    """One message as bytes (plain pickle: cheaper than Connection.send's pickler)."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> Any:
    return pickle.loads(data)


def send(conn: Connection, message: tuple) -> None:
    """Write ``message`` as one frame (``OSError`` if the other side is gone)."""
    write_message(conn.fileno(), message)


def receive(conn: Connection) -> Any:
    """Read one frame and decode it; ``EOFError`` when the other side closed the connection."""
    return read_message(conn.fileno())


def write_message(fd: int, message: tuple) -> None:
    """:func:`send` on a file descriptor (callers that keep the descriptor skip a lookup)."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    size = len(payload)
    if size < 0x7FFFFFFF:
        frame = _LENGTH.pack(size) + payload
    else:
        frame = _LENGTH.pack(-1) + _LONG_LENGTH.pack(size) + payload
    written = os.write(fd, frame)
    if written < len(frame):  # a large message: the socket took part of it
        view = memoryview(frame)[written:]
        while view:
            view = view[os.write(fd, view) :]


def read_message(fd: int) -> Any:
    """:func:`receive` on a file descriptor."""
    data = os.read(fd, _READ_SIZE)
    if len(data) > _LENGTH.size:  # the common case: the whole frame in one read
        (size,) = _LENGTH.unpack_from(data)
        if size == len(data) - _LENGTH.size:
            return pickle.loads(data[_LENGTH.size :])
    elif not data:
        raise EOFError("the other side closed the connection")
    return _read_rest(fd, data)


def _read_rest(fd: int, data: bytes) -> Any:
    while len(data) < _LENGTH.size:
        data += _read(fd)
    (size,) = _LENGTH.unpack_from(data)
    start = _LENGTH.size
    if size == -1:
        while len(data) < start + _LONG_LENGTH.size:
            data += _read(fd)
        (size,) = _LONG_LENGTH.unpack_from(data, start)
        start += _LONG_LENGTH.size
    end = start + size
    if len(data) < end:
        parts = [data]
        missing = end - len(data)
        while missing > 0:
            part = _read(fd, min(missing, _READ_SIZE))
            parts.append(part)
            missing -= len(part)
        data = b"".join(parts)
    if len(data) > end:
        raise ProtocolError(
            "two messages arrived at once on a wrapped-objective connection; a caller must "
            "wait for the answer to its call before it calls again on the same connection"
        )
    return pickle.loads(memoryview(data)[start:end])


def no_delay(conn: Connection) -> None:
    """Turn Nagle's algorithm off on a TCP connection: a message is one small write, which
    Nagle would hold back until the other side acknowledges the previous one."""
    with socket.socket(fileno=os.dup(conn.fileno())) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _read(fd: int, size: int = _READ_SIZE) -> bytes:
    data = os.read(fd, size)
    if not data:
        raise EOFError("the other side closed the connection")
    return data
