"""The tags of the messages between callers and the coordinator (pickled tuples).

Caller -> coordinator: ``(HELLO, pid)``; ``(CALL, config, fidelity, trial_key, measured)``
where ``measured`` is ``None`` (the coordinator evaluates the blackbox) or
``(fidelity, objectives, cumulative_runtime)`` from a user function run by the caller.
Coordinator -> caller: ``(WORKER, index)``, ``(RESULT, result_dict)``,
``(FINISHED, message)`` or ``(FAILED, message)``.
"""

HELLO = "hello"
CALL = "call"
WORKER = "worker"
RESULT = "result"
FINISHED = "finished"
FAILED = "failed"
