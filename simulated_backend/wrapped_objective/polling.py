"""Readiness of the coordinator's connections (its event loop's one system call)."""

from __future__ import annotations

import select
from collections.abc import Callable


class ReadinessPoller:
    """Which registered descriptors are readable: epoll where there is one, else poll.

    ``wait(timeout)`` (seconds, ``None``: block) returns ``[(fd, events), ...]``, empty on
    timeout. Used directly rather than through :mod:`selectors`, whose ``select`` builds a
    key per ready descriptor: the coordinator's loop runs once per evaluation.

    Args:
        use_epoll: ``None`` (default): epoll if the system has it; ``False``: poll.
    """

    def __init__(self, use_epoll: bool | None = None) -> None:
        if use_epoll is None:
            use_epoll = hasattr(select, "epoll")
        if use_epoll:
            self._poll = select.epoll()
            self.wait: Callable[[float | None], list[tuple[int, int]]] = self._poll.poll
        else:
            self._poll = select.poll()
            self.wait = self._wait_milliseconds

    def _wait_milliseconds(self, timeout: float | None) -> list[tuple[int, int]]:
        return self._poll.poll(None if timeout is None else timeout * 1000.0)

    def register(self, fd: int) -> None:
        self._poll.register(fd, select.POLLIN)

    def unregister(self, fd: int) -> None:
        self._poll.unregister(fd)

    def close(self) -> None:
        if hasattr(self._poll, "close"):
            self._poll.close()
