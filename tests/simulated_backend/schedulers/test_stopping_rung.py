"""StoppingRung's heap bookkeeping gives the same decisions as counting every result."""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend.schedulers.rungs import StoppingRung


@pytest.mark.parametrize("eta", [2, 3, 4, 2.5, 3.7])
@pytest.mark.parametrize("seed", range(4))
def test_decisions_equal_brute_force_rank_rule(eta, seed):
    rng = np.random.default_rng(seed)
    # few distinct values, so ties are common; some inf (NaN results rank worst as +inf)
    keys = rng.integers(0, 12, size=600).astype(float)
    keys[rng.random(600) < 0.05] = np.inf
    rung = StoppingRung(level=3, reduction_factor=eta)
    seen: list[float] = []
    for key in keys:
        seen.append(key)
        strictly_better = sum(other < key for other in seen)
        expected = strictly_better * eta <= len(seen)
        assert rung.add_and_decide(float(key)) == expected
    assert len(rung) == 600
