"""The tags of the messages between callers and the coordinator (pickled tuples).

Caller -> coordinator: ``(HELLO, pid)``; ``(CALL, config, fidelity, trial_key, measured)``
where ``measured`` is ``None`` (the coordinator evaluates the blackbox) or
``(fidelity, objectives, cumulative_runtime)`` from a user function run by the caller.
Coordinator -> caller: ``(WORKER, index)``, ``(RESULT, result_dict)``,
``(FINISHED, message)`` or ``(FAILED, message)``.
"""

import pickle
from typing import Any

HELLO = "hello"
CALL = "call"
WORKER = "worker"
RESULT = "result"
FINISHED = "finished"
FAILED = "failed"


def encode(message: tuple) -> bytes:
    """One message as bytes (plain pickle: cheaper than Connection.send's pickler)."""
    return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> Any:
    return pickle.loads(data)
