"""Start this process's multiprocessing ``forkserver`` as a fork of this process.

A Dask LocalCluster started by a study forks its worker processes from the ``forkserver``
(:mod:`benchmarking.executors`). Python starts that server as a fresh interpreter that
imports its preload list; each worker then imports what the server has not: simtune's
simulation stack (ConfigSpace with SciPy, pandas, pyarrow: about 2.3 s of CPU per worker,
before its first task can run). The study's process has usually imported all of that
already. :func:`start_forkserver_as_fork` starts the server as a ``fork`` of this process
instead, while this process still has a single Python thread, so that every worker starts
with simtune imported; the server imports what this process lacks (e.g. Dask) while this
process imports it too.

The server is the same program as Python's own (:func:`multiprocessing.forkserver.main`):
it forks the workers on request and exits when this process ends. Only the way it starts
differs; it is registered as this process's forkserver with the three fields Python's
``ForkServer.ensure_running`` sets (CPython 3.10 to 3.13; other versions, other platforms
and a process with more than one thread get Python's own forkserver). Like a worker of the
``fork`` start method, the server keeps this process's open files and memory (copy on
write); it resets signal handlers set in Python to their defaults and never runs this
process's exit handlers.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

_SERVER_FIELDS = ("_lock", "_forkserver_pid", "_forkserver_address", "_forkserver_alive_fd")


def can_fork_forkserver() -> bool:
    """Whether :func:`start_forkserver_as_fork` can start the server here: Linux, CPython
    3.10-3.13 (whose forkserver it knows), one Python thread, and no forkserver yet."""
    if not sys.platform.startswith("linux") or sys.version_info >= (3, 14):
        return False
    if threading.active_count() != 1:  # forking a process with threads can deadlock
        return False
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is None or not all(hasattr(server, field) for field in _SERVER_FIELDS):
        return False
    return server._forkserver_pid is None


def start_forkserver_as_fork(preload: Sequence[str]) -> bool:
    """Start this process's forkserver as a fork of this process; it imports those of
    ``preload`` that this process has not imported. Returns ``False`` (and starts
    nothing) where :func:`can_fork_forkserver` says no: the caller then starts Python's
    own forkserver."""
    if not can_fork_forkserver():
        return False
    from multiprocessing import connection, forkserver, resource_tracker, util

    server = forkserver._forkserver
    to_import = [name for name in preload if name not in sys.modules]
    with server._lock:
        if server._forkserver_pid is not None:  # started meanwhile
            return False
        resource_tracker.ensure_running()  # the server and the workers share it
        with socket.socket(socket.AF_UNIX) as listener:
            address = connection.arbitrary_address("AF_UNIX")
            listener.bind(address)
            if not util.is_abstract_socket_namespace(address):
                os.chmod(address, 0o600)
            listener.listen()
            # this process holds the write end: the server exits when it reads end-of-file
            alive_r, alive_w = os.pipe()
            for stream in (sys.stdout, sys.stderr):  # nothing buffered is written twice
                if stream is not None:
                    stream.flush()
            try:
                pid = os.fork()
            except BaseException:
                os.close(alive_r)
                os.close(alive_w)
                raise
            if pid == 0:
                # the child's copy of the lock is held (by the forking thread): free it, or
                # a worker starting a forkserver of its own would wait for it forever
                server._lock.release()
                _serve(listener.fileno(), alive_r, alive_w, to_import)
            os.close(alive_r)
        server._forkserver_address = address
        server._forkserver_alive_fd = alive_w
        server._forkserver_pid = pid
    return True


def _serve(listener_fd: int, alive_r: int, alive_w: int, preload: list[str]) -> NoReturn:
    """In the forked child: run Python's forkserver until this process's parent ends."""
    code = 0
    try:
        os.close(alive_w)  # only the study's process may keep the server alive
        for number in range(1, signal.NSIG):
            try:
                if callable(signal.getsignal(number)) and number != signal.SIGCHLD:
                    signal.signal(number, signal.SIG_DFL)
            except (OSError, ValueError):  # not a signal this platform has
                continue
        from multiprocessing import forkserver

        forkserver.main(listener_fd, alive_r, preload)
    except SystemExit:  # how the server ends when the study's process has gone
        pass
    except BaseException:
        code = 1
    finally:
        os._exit(code)
