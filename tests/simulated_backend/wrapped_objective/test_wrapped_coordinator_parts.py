"""The parts on every evaluation's path: polling, framing, lookup, ledger, the pickled handle."""

from __future__ import annotations

import os
import pickle
import socket
import threading
import time

import pytest

from blackbox_repository import TabularBlackbox
from simulated_backend.wrapped_objective import (
    BlackboxEvaluator,
    FunctionObjective,
    WrappedObjective,
    messages,
)
from simulated_backend.wrapped_objective.evaluation import ContinuationLedger
from simulated_backend.wrapped_objective.polling import ReadinessPoller
from simulated_backend.wrapped_objective.run_files import RunAddress
from tests.simulated_backend.engine_fixtures import random_tabular_blackbox


@pytest.mark.parametrize("use_epoll", [None, False])
def test_poller_reports_readable_descriptors_and_times_out(use_epoll):
    poller = ReadinessPoller(use_epoll)
    left, right = socket.socketpair()
    try:
        poller.register(right.fileno())
        started = time.monotonic()
        assert poller.wait(0.05) == []
        assert time.monotonic() - started >= 0.04
        left.send(b"x")
        assert [fd for fd, _ in poller.wait(1.0)] == [right.fileno()]
        poller.unregister(right.fileno())
        assert poller.wait(0) == []
    finally:
        poller.close()
        left.close()
        right.close()


def test_a_frame_split_inside_its_length_arrives_whole():
    left, right = socket.socketpair()
    message = (messages.RESULT, {"loss": 0.25, "worker": 3})
    payload = messages.encode(message)
    frame = len(payload).to_bytes(4, "big") + payload

    def write_in_pieces() -> None:
        os.write(left.fileno(), frame[:2])
        time.sleep(0.05)  # the reader has read the first two bytes alone by now
        os.write(left.fileno(), frame[2:])

    writer = threading.Thread(target=write_in_pieces)
    writer.start()
    try:
        assert messages.read_message(right.fileno()) == message
    finally:
        writer.join()
        left.close()
        right.close()


class CurveAnsweringBlackbox(TabularBlackbox):
    """A tabular blackbox with its own curves: the evaluator must ask it for them."""

    def curve_by_index(self, config_index: int, seed_index: int = 0):
        return super().curve_by_index(config_index, seed_index) * 1.0


def test_the_table_read_directly_answers_as_the_blackbox_curves_do():
    blackbox = random_tabular_blackbox(5, n_configs=12, n_fidelities=4)
    by_curves = random_tabular_blackbox(5, n_configs=12, n_fidelities=4)
    by_curves.__class__ = CurveAnsweringBlackbox
    direct, through_curves = BlackboxEvaluator(blackbox, 1), BlackboxEvaluator(by_curves, 1)
    for x in range(12):
        for epoch in (1, 2.5, 4, None):
            answer = direct.answer({"x": x}, epoch)
            assert answer == through_curves.answer({"x": x}, epoch)
            position = 3 if epoch is None else int(-(-epoch // 1)) - 1  # rounded up to the grid
            loss, elapsed = blackbox.curve_by_index(x, 1)[position].tolist()
            assert answer == ({"x": x}, position + 1, {"loss": loss, "time": elapsed}, elapsed)
            assert all(type(value) is float for value in answer[2].values())
    assert direct.measure({"x": 2}, 3).objectives == direct.answer({"x": 2}, 3)[2]


def test_ledger_follows_keyed_trials_only():
    ledger = ContinuationLedger()
    assert ledger.begin(None, {"x": 1}, 1, 10.0) == (0, 10.0, False)
    ledger.finish(0, 1, 10.0)  # an unkeyed trial: nothing to continue
    assert ledger.begin("a", {"x": 2}, 1, 4.0) == (1, 4.0, False)
    assert ledger.begin("a", {"x": 2}, 3, 9.0) == (2, 9.0, False)  # trial 1 still runs: new
    ledger.finish(2, 3, 9.0)
    assert ledger.begin("a", {"x": 2}, 5, 15.0) == (2, 6.0, True)  # only the remaining time
    ledger.finish(2, 5, 15.0)
    assert ledger.begin("a", {"x": 2}, 5, 15.0) == (3, 15.0, False)  # not higher: a new trial
    assert ledger.n_trials == 4
    by_config = ContinuationLedger(by_config=True)
    assert by_config.begin(None, {"x": 7}, 1, 2.0) == (0, 2.0, False)
    by_config.finish(0, 1, 2.0)
    assert by_config.begin(None, {"x": 7}, 2, 5.0) == (0, 3.0, True)


def _square(config, fidelity):
    return {"loss": config["x"] ** 2, "runtime": float(fidelity)}


def test_an_unpickled_objective_is_reused_for_its_run_only():
    first = WrappedObjective(RunAddress("/tmp/a/c", "AF_UNIX", b"k" * 32))
    other_run = WrappedObjective(RunAddress("/tmp/a/c", "AF_UNIX", b"j" * 32))
    copy = pickle.loads(pickle.dumps(first))
    assert copy.address == first.address and copy.function_objective is None
    # a process pool unpickles the handle with every task: the same run gives the same handle
    assert pickle.loads(pickle.dumps(first)) is copy
    other = pickle.loads(pickle.dumps(other_run))
    assert other is not copy and other.address.authkey == b"j" * 32
    assert pickle.loads(pickle.dumps(first)) is not other
    # a handle with a user function is always the one the task carried
    function = FunctionObjective(_square)
    with_function = WrappedObjective(first.address, function)
    unpickled = pickle.loads(pickle.dumps(with_function))
    assert unpickled is not copy and unpickled.function_objective.function is _square
    assert pickle.loads(pickle.dumps(first)) is not unpickled
