"""Worker processes that exit when the process that started them dies.

A worker of a local process pool (or the sandbox process of a tabulation worker) must not
outlive the run that started it: after a ``kill -9`` of ``simtune run`` its workers would
otherwise finish their tasks without the study's lock and then idle forever.

:func:`exit_with_parent` is called first thing in such a process. Given a
:class:`Lifeline` (the read end of a pipe whose only write end the starting process holds),
a daemon thread waits on it and exits the process when it reads end-of-file: the kernel
closes the write end when the starting process dies, however it dies. This reaches the
main process even when it is not the direct parent (a pool worker's parent is the pool's
forkserver, which lives on as long as any worker does). Without a lifeline it watches the
direct parent: on Linux the kernel sends SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``), and everywhere the thread notices that the process was re-parented.

Example:
    >>> lifeline = Lifeline(multiprocessing.get_context("forkserver"))  # doctest: +SKIP
    >>> ProcessPoolExecutor(initializer=exit_with_parent, initargs=(lifeline.reader,))  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
from typing import Any

POLL_SECONDS = 0.25
"""How often the watcher thread checks the parent (the kernel signal is immediate)."""
ORPHAN_EXIT_CODE = 70
"""Exit code of a process that ended because its parent died."""
_PR_SET_PDEATHSIG = 1


class Lifeline:
    """A pipe from the starting process to its workers; pass ``reader`` to each worker.

    Keep the object alive as long as the workers run; :meth:`close` once they have ended.
    """

    def __init__(self, context: Any) -> None:
        self.reader, self._writer = context.Pipe(duplex=False)

    def close(self) -> None:
        self.reader.close()
        self._writer.close()


def exit_with_parent(lifeline: Any = None, poll_seconds: float = POLL_SECONDS) -> None:
    """Make this process exit (without cleanup) as soon as its parent process dies.

    ``lifeline`` is the ``reader`` of a :class:`Lifeline` made by the process to watch
    (used by pool workers); without it, the direct parent is watched.
    """
    if lifeline is not None:
        threading.Thread(
            target=_wait_for_end_of_file, args=(lifeline,), name="simtune-lifeline", daemon=True
        ).start()
        return
    parent = os.getppid()
    _ask_kernel_for_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(ORPHAN_EXIT_CODE)
    watcher = threading.Thread(
        target=_watch, args=(parent, poll_seconds), name="simtune-parent-watch", daemon=True
    )
    watcher.start()


def _wait_for_end_of_file(lifeline: Any) -> None:
    try:
        while True:
            lifeline.recv_bytes()
    except (EOFError, OSError):
        os._exit(ORPHAN_EXIT_CODE)


def _watch(parent: int, poll_seconds: float) -> None:
    event = threading.Event()
    while not event.wait(poll_seconds):
        if os.getppid() != parent:
            os._exit(ORPHAN_EXIT_CODE)


def _ask_kernel_for_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no usable libc: the watcher thread still works
        pass
