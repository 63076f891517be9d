"""Random search with one sequence of configs: simtune and Syne Tune's simulator agree.

Both replay the real XGBoost-MNIST blackbox (simtune's ``load_blackbox``, converted to Syne
Tune's ``BlackboxTabular`` for Syne Tune) with 4 workers for one simulated hour, starting the
same configurations in the same order.

Exact: the trials (trial id -> configuration), and for every result both recorded its
fidelity and every objective value. Exact up to Syne Tune's fixed delays: the time of each
result since its trial started is simtune's plus ``delay_start + delay_on_trial_result`` =
0.1 s (Syne Tune's ``SimulatorConfig`` defaults), to 1e-5 s (Syne Tune keeps start times as
datetimes, µs resolution).

Within Syne Tune's clock granularity: Syne Tune's clock moves in steps of its tuner sleep
time (5 s by default) and also by the real seconds its own code takes, so a freed worker gets
its next trial up to ``sleep + 0.1`` simulated seconds late (plus real time) and these delays
add up along chains of trials that wait for each other. So a trial of hand-off depth ``d``
(see ``trial_depths``) starts in Syne Tune ``lag`` later than in simtune with
``0 <= lag <= d * (sleep + 0.1) + R``, where ``R`` is the real duration of the Syne Tune run
(an upper bound on the real time it added). Syne Tune never runs ahead of simtune, and every
result simtune records earlier than the budget minus that bound is also in Syne Tune's run.
"""

from __future__ import annotations

import numpy as np
import pytest

from simulated_backend import SimulatorBackend, StopCriterion, Tuner
from simulated_backend.schedulers import RandomSearch, SearchSpace
from simulated_backend.schedulers.syne_tune_adapter import (
    SyneTuneScheduler,
    syne_tune_config_space,
)
from tests.peers.syne_tune_runs import (
    DATETIME_RESOLUTION,
    SYNE_TUNE_DELAY_COMPLETE,
    SYNE_TUNE_DELAY_RESULT,
    SYNE_TUNE_DELAY_START,
    SYNE_TUNE_SLEEP,
    run_syne_tune_simulation,
    shuffled_grid_configs,
    trial_depths,
)

pytestmark = pytest.mark.syne_tune

N_WORKERS = 4
BUDGET = 3600.0
METRIC = "test_error"


def simtune_random_search(blackbox, points, scheduler_kind):
    if scheduler_kind == "native":
        scheduler = RandomSearch(
            SearchSpace.from_blackbox(blackbox), METRIC, "min", points_to_evaluate=points
        )
    else:
        from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandomSearch

        syne_tune_rs = SyneTuneRandomSearch(
            syne_tune_config_space(blackbox),
            metrics=[METRIC],
            do_minimize=True,
            random_seed=0,
            points_to_evaluate=points,
        )
        scheduler = SyneTuneScheduler(syne_tune_rs, search_space=blackbox, seed=0)
    backend = SimulatorBackend(blackbox, n_workers=N_WORKERS, blackbox_seed=0)
    return Tuner(scheduler, backend, StopCriterion(max_wallclock_time=BUDGET)).run()


@pytest.fixture(scope="module")
def syne_tune_run(xgboost_mnist, tmp_path_factory):
    """Syne Tune's random search on its own simulator, run once for both comparisons."""
    from syne_tune.optimizer.baselines import RandomSearch as SyneTuneRandomSearch

    points = shuffled_grid_configs(xgboost_mnist, seed=0)
    scheduler = SyneTuneRandomSearch(
        syne_tune_config_space(xgboost_mnist),
        metrics=[METRIC],
        do_minimize=True,
        random_seed=0,
        points_to_evaluate=points,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNETUNE_FOLDER", str(tmp_path_factory.mktemp("syne-tune")))
        return points, run_syne_tune_simulation(scheduler, xgboost_mnist, N_WORKERS, BUDGET)


@pytest.mark.parametrize("scheduler_kind", ["native", "syne_tune_via_adapter"])
def test_random_search_gives_the_same_trials_values_and_times_as_syne_tune(
    xgboost_mnist, syne_tune_run, scheduler_kind
):
    points, theirs = syne_tune_run
    ours = simtune_random_search(xgboost_mnist, points, scheduler_kind).results
    fidelity = xgboost_mnist.fidelity_name
    hp_names = xgboost_mnist.hyperparameter_names
    objectives = list(xgboost_mnist.objective_names)
    their_results = theirs.results.rename(columns={fidelity: "fidelity"})

    # the same trials: trial i runs configuration i of the shared sequence, in both
    for trial_id, rows in ours.groupby("trial_id"):
        assert {name: rows[f"config_{name}"].iloc[0] for name in hp_names} == points[trial_id]
    assert set(their_results.trial_id) <= set(ours.trial_id)

    merged = ours.merge(
        their_results, on=["trial_id", "fidelity"], how="inner", suffixes=("", "_st")
    )
    assert len(merged) >= 0.9 * len(ours)  # Syne Tune's lag leaves it a few results short
    for name in objectives:  # the same fidelities and metric values, bit for bit
        np.testing.assert_array_equal(merged[name].to_numpy(), merged[f"{name}_st"].to_numpy())

    # time since the trial started: identical up to Syne Tune's fixed start + result delays
    our_starts = {
        trial_id: rows.simulated_time.iloc[0] - rows[xgboost_mnist.elapsed_time_objective].iloc[0]
        for trial_id, rows in ours.groupby("trial_id")
    }
    our_since_start = merged.simulated_time - merged.trial_id.map(our_starts)
    their_since_start = merged.st_tuner_time - merged.trial_id.map(theirs.start_times)
    delay = SYNE_TUNE_DELAY_START + SYNE_TUNE_DELAY_RESULT
    np.testing.assert_allclose(
        their_since_start - our_since_start, delay, atol=10 * DATETIME_RESOLUTION
    )

    # absolute times: Syne Tune lags by a non-negative amount bounded by its clock steps
    ends = ours.groupby("trial_id").simulated_time.max().to_dict()
    last_time = ours.simulated_time.max()
    ends = {
        t: (e if e < last_time else np.inf) for t, e in ends.items()
    }  # still running at the end
    depths = trial_depths(our_starts, ends)
    hand_off = SYNE_TUNE_SLEEP + SYNE_TUNE_DELAY_RESULT + SYNE_TUNE_DELAY_COMPLETE
    bound = merged.trial_id.map(depths) * hand_off + theirs.real_seconds
    lag = merged.st_tuner_time - merged.simulated_time - delay
    assert (lag >= -10 * DATETIME_RESOLUTION).all()
    assert (lag <= bound + 10 * DATETIME_RESOLUTION).all()
    assert lag.max() > 0  # the comparison is not vacuous: Syne Tune's clock did lag
    # every result simtune records early enough is also in Syne Tune's run
    all_bounds = ours.trial_id.map(depths) * hand_off + theirs.real_seconds
    must_be_there = ours[ours.simulated_time + delay + all_bounds < BUDGET]
    matched = set(zip(merged.trial_id, merged.fidelity))
    assert set(zip(must_be_there.trial_id, must_be_there.fidelity)) <= matched
