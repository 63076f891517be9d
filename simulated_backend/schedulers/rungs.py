"""Per-rung bookkeeping of ASHA: O(log n) decisions with sorted lists, no scans.

Metric values are turned into *keys* where smaller is better: ``value`` in mode ``"min"``,
``-value`` in mode ``"max"``; NaN (a missing measurement) is the worst key, ``+inf``.
"""

from __future__ import annotations

import math
from heapq import heappush, heappushpop

from sortedcontainers import SortedList


def key_function(mode: str):
    """``value -> key`` (smaller is better; NaN is worst) for ``mode``."""
    if mode == "min":
        return lambda value: math.inf if value != value else float(value)
    return lambda value: math.inf if value != value else -float(value)


class StoppingRung:
    """Results recorded at one rung level, for the stopping rule of ASHA.

    A trial reaching the rung is added first; with ``n`` results recorded (itself
    included) and ``b`` of them strictly better than it, it continues iff
    ``b <= n / eta``, i.e. at most a fraction ``1 / eta`` of the results at this rung beat
    it (Syne Tune's ASHA rule; ties favour the newcomer, the first trial always continues).
    """

    def __init__(self, level, reduction_factor: float) -> None:
        self.level = level
        self.reduction_factor = reduction_factor
        # b <= n / eta  <=>  key <= the (K+1)-th smallest key, K = floor(n / eta) (the new
        # key included). Two heaps keep exactly the K+1 smallest keys apart from the rest,
        # so a decision costs O(log n) in C heap operations and nothing grows per result.
        self._smallest: list[float] = []  # max-heap (negated keys) of the K+1 smallest keys
        self._rest: list[float] = []  # min-heap of the other keys
        self._count = 0
        self._integer_eta = isinstance(reduction_factor, int)

    def __len__(self) -> int:
        return self._count

    def _n_smallest(self, n: int) -> int:
        """K + 1 with K the largest integer such that K * eta <= n (exact for float eta)."""
        if self._integer_eta:
            return n // self.reduction_factor + 1
        k = math.floor(n / self.reduction_factor)
        while (k + 1) * self.reduction_factor <= n:
            k += 1
        while k * self.reduction_factor > n:
            k -= 1
        return k + 1

    def add_and_decide(self, key: float) -> bool:
        """Record ``key``; whether the trial continues."""
        smallest = self._smallest
        self._count = count = self._count + 1
        wanted = (
            count // self.reduction_factor + 1 if self._integer_eta else self._n_smallest(count)
        )
        # ``wanted`` grows by at most one per key: one key at most crosses between the heaps,
        # so one C call (heappushpop) does the push and the move at once
        if smallest and key <= -smallest[0]:
            if len(smallest) < wanted:
                heappush(smallest, -key)
            else:  # the largest of the K + 1 smallest moves to the rest (or key itself, if equal)
                heappush(self._rest, -heappushpop(smallest, -key))
        elif len(smallest) < wanted:  # the smallest of the rest and key joins them
            heappush(smallest, -heappushpop(self._rest, key))
        else:  # worse than the (K + 1)-th smallest: stopped
            heappush(self._rest, key)
            return False
        return key <= -smallest[0]


class PromotionRung:
    """Results at one rung level, for the promotion rule of ASHA (Li et al., 2020, Alg. 2).

    Entries are ordered by ``(key, arrival)``: equal metric values rank in arrival order.
    With ``n`` entries, the top ``floor(n / eta)`` are promotable; a trial is promoted at
    most once, so the next promotion is the best *not yet promoted* entry, provided its
    rank is below ``floor(n / eta)``. Only paused trials are candidates.
    """

    def __init__(self, level, reduction_factor: float) -> None:
        self.level = level
        self.reduction_factor = reduction_factor
        self._entries = SortedList()  # (key, arrival, trial_id) of every result at the rung
        self._candidates = SortedList()  # the entries of paused trials not promoted yet
        self._entry_of: dict[int, tuple] = {}
        self._arrivals = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, trial_id: int) -> bool:
        return trial_id in self._entry_of

    def add(self, trial_id: int, key: float) -> None:
        """Record the result of a trial that pauses at this rung."""
        entry = (key, self._arrivals, trial_id)
        self._arrivals += 1
        self._entries.add(entry)
        self._candidates.add(entry)
        self._entry_of[trial_id] = entry

    def promotable(self) -> int | None:
        """The trial to promote next, or ``None``; O(log n)."""
        if not self._candidates:
            return None
        best = self._candidates[0]
        n_top = math.floor(len(self._entries) / self.reduction_factor)
        return best[2] if self._entries.bisect_left(best) < n_top else None

    def mark_promoted(self, trial_id: int) -> None:
        """The trial leaves this rung's candidates (promoted, or gone)."""
        entry = self._entry_of.get(trial_id)
        if entry is not None:
            self._candidates.discard(entry)
