"""The framing of the messages between callers and the coordinator, on real sockets."""

from __future__ import annotations

import socket
import threading
from multiprocessing.connection import Client, Connection, Listener

import pytest

from simulated_backend.wrapped_objective import messages


@pytest.fixture
def connected():
    left, right = socket.socketpair()
    pair = Connection(left.detach()), Connection(right.detach())
    yield pair
    for conn in pair:
        conn.close()


def test_frames_are_those_of_multiprocessing_connections(connected):
    sender, receiver = connected
    call = (messages.CALL, {"x": 3, "lr": 0.1}, 9, None, None)
    messages.send(sender, call)
    assert messages.decode(receiver.recv_bytes()) == call  # multiprocessing reads ours
    receiver.send_bytes(messages.encode((messages.RESULT, {"loss": 0.5})))
    assert messages.receive(sender) == (messages.RESULT, {"loss": 0.5})  # and we read its


def test_a_message_larger_than_one_read_arrives_whole(connected):
    sender, receiver = connected
    big = (messages.CALL, {"blob": "x" * 3_000_000}, None, None, None)  # > the socket buffer
    writer = threading.Thread(target=messages.send, args=(sender, big))
    writer.start()
    assert messages.receive(receiver) == big
    writer.join()


def test_two_messages_at_once_are_refused_and_a_closed_peer_is_end_of_file(connected):
    sender, receiver = connected
    messages.send(sender, (messages.HELLO, 1))
    messages.send(sender, (messages.HELLO, 2))
    with pytest.raises(messages.ProtocolError, match="wait for the answer"):
        messages.receive(receiver)
    sender.close()
    with pytest.raises(EOFError):
        messages.receive(receiver)


def test_tcp_connections_send_small_messages_without_delay():
    with Listener(("127.0.0.1", 0), "AF_INET", authkey=b"k" * 32) as listener:
        accepted: list[Connection] = []
        acceptor = threading.Thread(target=lambda: accepted.append(listener.accept()))
        acceptor.start()
        client = Client(listener.address, "AF_INET", authkey=b"k" * 32)
        acceptor.join()
        try:
            messages.no_delay(client)
            with socket.socket(fileno=client.fileno()) as view:
                assert view.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
                view.detach()  # the connection keeps its descriptor
            messages.send(client, (messages.HELLO, 7))
            assert messages.receive(accepted[0]) == (messages.HELLO, 7)
        finally:
            client.close()
            accepted[0].close()
