"""A batch of draws without replacement from a pool of candidates, worked out at once.

A finite :class:`~simulated_backend.schedulers.search_space.SearchSpace` keeps the candidates
not drawn yet in ``pool[:n]`` and draws one with a uniform ``u`` in [0, 1) by a swap: the
candidate at position ``p = int(u * n)`` is drawn, the one at the last position ``n - 1``
moves into its place, and ``n`` shrinks by one (a Fisher-Yates step). Step ``k`` of a batch
of ``m`` draws therefore reads position ``p_k`` and the tail position ``t_k = n - 1 - k``,
and writes the tail's candidate to ``p_k``.

:func:`draw_batch` gives the same draws, in the same order, and leaves the same pool, as
``m`` such steps one after the other, with a few numpy operations per batch instead of a
Python step per draw (the path of every trial start of a random searcher on a grid):

- the candidate drawn at step ``k`` is the one last written to ``p_k`` by an earlier step
  ``j < k`` (the candidate step ``j`` moved), else the pool's candidate at ``p_k``;
- the candidate step ``j`` moves is the one last written to ``t_j`` by an earlier step, else
  the pool's candidate at ``t_j``: a chain through earlier steps, resolved by repeating one
  array assignment until nothing changes (each repetition resolves one more link; chains
  are a few links long).

Both "last earlier writes" come from the steps sorted by position (then by step): a step's
predecessor in that order, if at the same position, is the last earlier write there. Only
steps writing into the batch's tail positions (about ``m * m / n`` of them) can feed a move.
"""

from __future__ import annotations

import numpy as np


def draw_batch(pool: np.ndarray, where: np.ndarray, n: int, uniforms: np.ndarray) -> list[int]:
    """Draw ``len(uniforms)`` (at most ``n``) candidates from ``pool[:n]``, ``uniforms[k]``
    deciding step ``k``; ``pool`` and ``where`` (each candidate's position in ``pool``) are
    updated in place, as by that many single swaps. Returns the candidates drawn as Python
    ints, the last drawn first (for ``pop()``). The caller's remaining count becomes
    ``n - len(uniforms)``."""
    m = len(uniforms)
    steps = np.arange(m, dtype=np.int64)
    tails = (n - 1) - steps  # the last position at step k
    # int(u * n_k): the same IEEE product (n_k < 2**53 converts exactly), truncated
    positions = (uniforms * (tails + 1)).astype(np.int64)
    np.minimum(positions, tails, out=positions)  # u rounds up to 1.0 only for n near 2**53
    # the steps sorted by the position they write, then by step
    order = np.sort(positions * m + steps)
    sorted_positions = order // m
    sorted_steps = order - sorted_positions * m
    n_left = n - m
    # what each step moves: the pool's candidate at its tail, unless an earlier step wrote
    # there (only positions >= n_left are tails; a step writing its own tail is no source)
    moved = pool[tails]
    into_tails = int(np.searchsorted(sorted_positions, n_left))
    tail_positions, tail_steps = sorted_positions[into_tails:], sorted_steps[into_tails:]
    feeding = tail_steps != (n - 1) - tail_positions
    tail_positions, tail_steps = tail_positions[feeding], tail_steps[feeding]
    if tail_steps.size:
        last = np.ones(tail_steps.size, dtype=bool)  # the last earlier write to each tail
        last[:-1] = tail_positions[1:] != tail_positions[:-1]
        fed = (n - 1) - tail_positions[last]  # the steps whose tail those writes fill
        sources = tail_steps[last]
        while True:  # chains of moves: one more link per pass
            resolved = moved[sources]
            if np.array_equal(resolved, moved[fed]):
                break
            moved[fed] = resolved
    drawn = pool[positions]
    # a step reading a position an earlier step wrote draws what that step moved
    repeated = np.flatnonzero(sorted_positions[1:] == sorted_positions[:-1])
    if repeated.size:
        drawn[sorted_steps[repeated + 1]] = moved[sorted_steps[repeated]]
    # the pool afterwards: the last write to each position left in it, then the drawn tail
    if into_tails:
        kept_positions = sorted_positions[:into_tails]
        last_write = np.ones(into_tails, dtype=bool)
        last_write[:-1] = kept_positions[1:] != kept_positions[:-1]
        written = kept_positions[last_write]
        pool[written] = moved[sorted_steps[:into_tails][last_write]]
        where[pool[written]] = written
    drawn = drawn[::-1]
    pool[n_left:n] = drawn
    where[drawn] = tails[::-1]
    return drawn.tolist()
