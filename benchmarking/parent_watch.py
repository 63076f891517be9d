"""Worker processes that exit when the process that started them dies.

A worker of a local process pool (or the sandbox process of a tabulation worker) must not
outlive the run that started it: after a ``kill -9`` of ``simtune run`` its workers would
otherwise finish their tasks without the study's lock and then idle forever.

:func:`exit_with_parent` is called first thing in such a process. It watches the process's
parent two ways: on Linux the kernel sends SIGKILL when the parent dies
(``PR_SET_PDEATHSIG``); everywhere a daemon thread notices that the process was re-parented
(``os.getppid()`` changed) and exits. A pool worker's parent is the pool's forkserver, which
itself exits as soon as the main process is gone, so both reach the main process's death.

Example:
    >>> concurrent.futures.ProcessPoolExecutor(initializer=exit_with_parent)  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

POLL_SECONDS = 0.25
"""How often the watcher thread checks the parent (the kernel signal is immediate)."""
ORPHAN_EXIT_CODE = 70
"""Exit code of a process that ended because its parent died."""
_PR_SET_PDEATHSIG = 1


def exit_with_parent(poll_seconds: float = POLL_SECONDS) -> None:
    """Make this process exit (without cleanup) as soon as its parent process dies."""
    parent = os.getppid()
    _ask_kernel_for_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(ORPHAN_EXIT_CODE)
    watcher = threading.Thread(
        target=_watch, args=(parent, poll_seconds), name="simtune-parent-watch", daemon=True
    )
    watcher.start()


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
