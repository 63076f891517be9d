"""simtune's YAHPO answers are yahpo-gym 1.0.2's, bit for bit, on the same machine.

yahpo-gym pins numpy < 2 and ConfigSpace <= 0.6.1, so it runs in its own environment:
``scripts/install_peer_extras.sh`` creates it in ``.peer-venvs/yahpo-gym-1.0.2`` (or point
``$SIMTUNE_YAHPO_GYM_PYTHON`` at a Python that has yahpo-gym 1.0.2); the test is skipped,
with that reason, only when neither exists. ``tests/peers/yahpo_gym_peer.py`` evaluates each
(configuration, fidelity) there with ``BenchmarkSet.objective_function``, one configuration
per call. Compared: the real models of the shared data (lcbench, the conditional
rbv2_xgboost space, iaml_glmnet) and two scenarios simtune did not list before, on models
built in YAHPO's layout: rbv2_ranger and nb301 (no instance parameter).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from blackbox_repository import load_blackbox
from blackbox_repository.recipes._yahpo_gym_1_0_2 import SCENARIOS
from tests.blackbox_repository.yahpo_fixture_models import build_model, scenario_folder

REPOSITORY = Path(__file__).resolve().parents[2]
PEER_SCRIPT = Path(__file__).with_name("yahpo_gym_peer.py")
DEFAULT_PYTHON = REPOSITORY / ".peer-venvs" / "yahpo-gym-1.0.2" / "bin" / "python"
PEER_PYTHON = Path(os.environ.get("SIMTUNE_YAHPO_GYM_PYTHON", DEFAULT_PYTHON))

pytestmark = pytest.mark.skipif(
    not PEER_PYTHON.exists(),
    reason=(
        f"no Python with yahpo-gym 1.0.2 at {PEER_PYTHON}: run `bash "
        "scripts/install_peer_extras.sh` (or set SIMTUNE_YAHPO_GYM_PYTHON) to compare with it"
    ),
)


def plain(value):
    return value.item() if hasattr(value, "item") else value


def queries_of(blackbox, n_configs: int, seed: int) -> tuple[list, list, list]:
    """(configs, fidelities, yahpo-gym queries): every fidelity of each sampled config."""
    space = blackbox.configuration_space
    space.seed(seed)
    spec = blackbox.spec
    configs, fidelities, queries = [], [], []
    for _ in range(n_configs):
        config = {k: plain(v) for k, v in dict(space.sample_configuration()).items()}
        for fidelity in blackbox.fidelity_values.tolist():
            query = {**config, **dict(spec.fixed_inputs), spec.fidelity_parameter: fidelity}
            if spec.instance_parameter:
                query[spec.instance_parameter] = spec.instance
            configs.append(config)
            fidelities.append(fidelity)
            queries.append(query)
    return configs, fidelities, queries


def test_yahpo_answers_equal_yahpo_gym_bit_for_bit(
    tmp_path, shared_data_dir, session_cache_dir, fresh_cache_dir
):
    data = tmp_path / "yahpo"
    data.mkdir()
    for scenario in ("lcbench", "rbv2_xgboost", "iaml_glmnet"):
        (data / scenario).symlink_to(shared_data_dir / "yahpo" / scenario)
    blackboxes = [
        load_blackbox(name, cache_dir=session_cache_dir, raw_data_dir=shared_data_dir)
        for name in ("yahpo-lcbench-3945", "yahpo-rbv2_xgboost-1040", "yahpo-iaml_glmnet-41146")
    ]
    for scenario, name, seed in (
        ("rbv2_ranger", "yahpo-rbv2_ranger-1040", 1),
        ("nb301", "yahpo-nb301-CIFAR10", 2),
    ):
        description = SCENARIOS[scenario]
        n_outputs = len(description.output_names)
        scenario_folder(
            tmp_path,
            scenario,
            shared_data_dir / "yahpo" / "_no_model" / scenario,
            model=build_model(
                len(description.cat_names), len(description.cont_names), n_outputs, seed
            ),
        )
        blackboxes.append(load_blackbox(name, cache_dir=fresh_cache_dir, raw_data_dir=tmp_path))
    requests, expected_rows = [], []
    for blackbox in blackboxes:
        n_configs = 2 if blackbox.spec.scenario in ("lcbench", "nb301") else 5
        configs, fidelities, queries = queries_of(blackbox, n_configs, seed=7)
        spec = blackbox.spec
        requests.append({"scenario": spec.scenario, "instance": spec.instance, "queries": queries})
        expected_rows.append(
            blackbox.lookup_batch(configs, fidelities)[:, : len(spec.output_names)]
        )
    completed = subprocess.run(
        [str(PEER_PYTHON), str(PEER_SCRIPT)],
        input=json.dumps({"data_path": str(data), "requests": requests}),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},  # yahpo-gym writes no settings into ~
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    answers = json.loads(completed.stdout)
    for blackbox, ours, theirs in zip(blackboxes, expected_rows, answers):
        assert len(theirs) == len(ours) > 0, blackbox.name
        np.testing.assert_array_equal(ours, np.array(theirs), err_msg=blackbox.name)
