"""Fixtures of the blackbox-repository tests: a real tabular blackbox built from real LCDB
rows, a recipe for it (with an optional gate that holds its conversion until the test lets
it go), real S3-compatible servers on loopback (moto), and helpers to run real processes.

The recipe here is a test recipe: it is passed explicitly with ``recipe=`` and does not
depend on the official ``lcdb`` recipe.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from ConfigSpace import Categorical, ConfigurationSpace, EqualsCondition, Float, Integer

from blackbox_repository import Objective, TabularBlackbox, load_blackbox
from blackbox_repository.recipes import RawFile, Recipe

if TYPE_CHECKING:  # imported where used: the surrogate-training packages load only there
    from blackbox_repository.surrogate_training import SurrogateTrainingData
    from blackbox_repository.surrogate_training.trained_surrogate import (
        TrainedSurrogateBlackbox,
    )

REPO_ROOT = Path(__file__).resolve().parents[2]
LCDB_FILE = "lcdb/database-accuracy_openmlid_3.csv"
LCDB_SHA256 = "1f824bf06e17844a2d114ec38e100329753407ecc75e375c370cc60a94d369cc"
LCDB_NAME = "test-lcdb-openml3"
MOTO_BUCKET = "simtune-test"
GATE_TIMEOUT_SECONDS = 60.0


# ------------------------------------------------------------------ the test recipe
def build_lcdb_blackbox(name: str, raw_dir: Path) -> TabularBlackbox:
    """learners x training-set sizes x outer seeds from LCDB's real rows of OpenML dataset 3.

    Objectives: validation and test error (1 - accuracy) and the elapsed time, the training
    times summed over the anchors up to each one (a learner refits at every anchor).
    """
    rows = pd.read_csv(Path(raw_dir) / LCDB_FILE)
    rows = rows[rows["inner_seed"] == 0]
    learners = sorted(rows["learner"].unique())
    anchors = np.sort(rows["size_train"].unique())
    seeds = np.sort(rows["outer_seed"].unique())
    table = rows.set_index(["learner", "size_train", "outer_seed"]).sort_index()
    index = pd.MultiIndex.from_product([learners, anchors, seeds])
    table = table.reindex(index)
    shape = (len(learners), len(anchors), len(seeds))
    error_valid = 1.0 - table["score_valid"].to_numpy(dtype=np.float64).reshape(shape)
    error_test = 1.0 - table["score_test"].to_numpy(dtype=np.float64).reshape(shape)
    elapsed = np.cumsum(table["traintime"].to_numpy(dtype=np.float64).reshape(shape), axis=1)
    return TabularBlackbox(
        name=name,
        configuration_space=ConfigurationSpace({"learner": Categorical("learner", learners)}),
        configurations=pd.DataFrame({"learner": learners}),
        fidelity_name="size_train",
        fidelity_values=anchors,
        seeds=seeds,
        objectives=[
            Objective("error_valid", "min"),
            Objective("error_test", "min"),
            Objective("elapsed_time", "min", unit="s"),
        ],
        elapsed_time_objective="elapsed_time",
        values=np.stack([error_valid, error_test, elapsed], axis=-1),
        description="test blackbox: LCDB accuracy rows of OpenML dataset 3",
    )


def convert_lcdb_gated(name: str, raw_dir: Path, *, gate: Path | None) -> TabularBlackbox:
    """Convert; with a gate folder, record the start and wait for ``gate/go`` first.

    Each conversion appends a line to ``gate/conversions`` so tests can count them.
    """
    if gate is not None:
        with open(gate / "conversions", "a") as log:
            log.write(f"{os.getpid()}\n")
        (gate / f"started-{os.getpid()}").touch()
        deadline = time.monotonic() + GATE_TIMEOUT_SECONDS
        while not (gate / "go").exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"test gate {gate} was never opened")
            time.sleep(0.02)
    return build_lcdb_blackbox(name, raw_dir)


def make_lcdb_recipe(gate: Path | str | None = None) -> Recipe:
    """The test recipe; ``gate`` (a folder) makes its conversion wait for ``gate/go``."""
    return Recipe(
        family="test-lcdb",
        names=(LCDB_NAME,),
        raw_files=(
            RawFile(path=LCDB_FILE, url="https://invalid.test/lcdb.csv", sha256=LCDB_SHA256),
        ),
        convert=functools.partial(convert_lcdb_gated, gate=Path(gate) if gate else None),
        description="LCDB rows of OpenML dataset 3 (test recipe)",
    )


def make_conditional_blackbox(dtype: type = np.float32, seed: int = 0) -> TabularBlackbox:
    """A small grid with conditional hyperparameters: momentum only for sgd, beta1 only for adam.

    Inactive values are NaN in ``configurations``. ``values`` holds random numbers plus
    the awkward ones (NaN, -0.0, inf, a subnormal) so that round trips are tested bit for bit.
    """
    space = ConfigurationSpace()
    optimizer = Categorical("optimizer", ["sgd", "adam"])
    momentum = Float("momentum", (0.0, 0.99))
    beta1 = Float("beta1", (0.5, 0.999))
    space.add(
        [
            optimizer,
            momentum,
            beta1,
            Integer("layers", (1, 4)),
            EqualsCondition(momentum, optimizer, "sgd"),
            EqualsCondition(beta1, optimizer, "adam"),
        ]
    )
    configurations = pd.DataFrame(
        {
            "layers": [1, 2, 3, 4, 2, 3],
            "optimizer": ["sgd", "sgd", "adam", "adam", "adam", "sgd"],
            "beta1": [np.nan, np.nan, 0.9, 0.99, 0.5, np.nan],
            "momentum": [0.0, 0.9, np.nan, np.nan, np.nan, 0.5],
        }
    )
    rng = np.random.default_rng(seed)
    fidelities = np.array([1, 2, 4, 8, 16])
    values = rng.random((len(configurations), len(fidelities), 2, 3)).astype(dtype)
    values[..., 2] = np.cumsum(values[..., 2], axis=1)  # elapsed time increases
    values[0, 1, 0, 0] = np.nan
    values[1, :, 1, 1] = np.nan
    values[2, 0, 0, 0] = -0.0
    values[3, 0, 0, 0] = np.inf
    values[4, 0, 0, 0] = np.finfo(dtype).smallest_subnormal
    return TabularBlackbox(
        name=f"conditional-{np.dtype(dtype).name}",
        configuration_space=space,
        configurations=configurations,
        fidelity_name="epoch",
        fidelity_values=fidelities,
        seeds=[7, 11],
        objectives=[
            Objective("loss", "min"),
            Objective("accuracy", "max"),
            Objective("elapsed_time", "min", unit="s"),
        ],
        elapsed_time_objective="elapsed_time",
        values=values,
        description="synthetic grid with conditional hyperparameters",
    )


@pytest.fixture(scope="session")
def lcdb_blackbox(shared_data_dir) -> TabularBlackbox:
    return build_lcdb_blackbox(LCDB_NAME, shared_data_dir)


@pytest.fixture
def lcdb_recipe() -> Recipe:
    return make_lcdb_recipe()


# ------------------------------------------------------------------ real processes
def python_subprocess(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start ``python -c code args...`` in the repository root (so ``tests`` imports)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_file(
    path: Path, process: subprocess.Popen | None = None, timeout: float = 120
) -> None:
    """Poll until ``path`` exists; fail early with the process's stderr if it died.

    The timeout is generous: a child importing pandas on a loaded 2-core machine has taken
    over 30 s.
    """
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process is not None and process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode}: {process.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


@contextlib.contextmanager
def mounted_tmpfs(mount_point: Path, options: str) -> Iterator[Path]:
    """A real tmpfs mounted at ``mount_point`` (created) with mount ``options``, unmounted
    after; the test is skipped where this machine refuses to mount."""
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs ({options}) here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ S3 on loopback
@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    """A real S3-compatible HTTP server (moto) on 127.0.0.1 for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_test_credentials(monkeypatch, tmp_path) -> None:
    """Test credentials only; the user's AWS config files are never read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "simtune-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "simtune-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def s3_endpoint(moto_endpoint, aws_test_credentials) -> str:
    """The moto endpoint, emptied, with one bucket ``MOTO_BUCKET``."""
    import boto3

    _post_moto_api(moto_endpoint, "reset")
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=MOTO_BUCKET)
    return moto_endpoint


@pytest.fixture
def s3_client(s3_endpoint):
    """A plain boto3 client on the test endpoint, to inspect and tamper with objects."""
    import boto3

    return boto3.client("s3", endpoint_url=s3_endpoint)


def _post_moto_api(endpoint: str, path: str, body: bytes = b"") -> None:
    # text/plain: with urllib's default form content type, flask hides the body from moto
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}",
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, response.read()


@pytest.fixture
def authenticating_s3_endpoint(s3_endpoint) -> str:
    """The test endpoint, checking signatures from its 4th request on.

    moto's ``/moto-api/reset-auth`` sets ``INITIAL_NO_AUTH_ACTION_COUNT`` at run time: the
    first 3 requests (the test's IAM calls creating a user, its policy and its access key)
    pass unsigned, every later request must be signed with a key moto knows, or it gets
    403. Signature checks are switched off again afterwards.
    """
    _post_moto_api(s3_endpoint, "reset-auth", b"3")
    try:
        yield s3_endpoint
    finally:
        _post_moto_api(s3_endpoint, "reset-auth", b"inf")


def small_embedded_table(
    benchmark: str,
    name: str,
    n_configs: int,
    n_fidelities: int,
    *,
    n_seeds: int | None = None,
    values_edit: Callable | None = None,
) -> TabularBlackbox:
    """The first ``n_configs`` configurations, ``n_fidelities`` fidelities and ``n_seeds``
    seeds (default: all) of the embedded ``benchmark`` as a table named ``name``;
    ``values_edit(values, full)`` may change the values (a float copy) first."""
    full = load_blackbox(benchmark)
    seeds = slice(None) if n_seeds is None else slice(n_seeds)
    values = np.array(full.values[:n_configs, :n_fidelities, seeds], dtype=float)
    if values_edit is not None:
        values_edit(values, full)
    return TabularBlackbox(
        name=name,
        configuration_space=full.configuration_space,
        configurations=full.configurations.iloc[:n_configs].reset_index(drop=True),
        fidelity_name=full.fidelity_name,
        fidelity_values=full.fidelity_values[:n_fidelities],
        seeds=full.seeds[seeds],
        objectives=full.objectives,
        elapsed_time_objective=full.elapsed_time_objective,
        values=values,
    )


def small_breast_cancer_table(
    name: str, n_configs: int, n_fidelities: int, values_edit: Callable | None = None
) -> TabularBlackbox:
    """:func:`small_embedded_table` of the embedded breast-cancer benchmark."""
    return small_embedded_table(
        "sklearn-mlp-breast-cancer", name, n_configs, n_fidelities, values_edit=values_edit
    )


def small_breast_cancer_training_data(
    name: str, n_configs: int, n_fidelities: int
) -> SurrogateTrainingData:
    """:func:`small_breast_cancer_table` split by configuration (seed 1)."""
    from blackbox_repository.surrogate_training import (
        SurrogateTrainingData,
        split_configurations,
    )

    table = small_breast_cancer_table(name, n_configs, n_fidelities)
    return SurrogateTrainingData(table, split_configurations(n_configs, seed=1))


def small_hgb_surrogate(
    data: SurrogateTrainingData, name: str, **export_options: Any
) -> TrainedSurrogateBlackbox:
    """A surrogate of ``data``'s validation error and elapsed time: one default
    HistGradientBoosting model each (16 rounds), refitted on train + validation, exported
    with ``export_options`` (``calibrate``, ``seed_noise``, ``curve_ends``, ...) and
    assembled under ``name``."""
    from blackbox_repository.surrogate_training.fitting import export_model, fit_model
    from blackbox_repository.surrogate_training.model_families import FAMILIES
    from blackbox_repository.surrogate_training.publish import assemble_surrogate

    family, refit = "hist_gradient_boosting", ("train", "validation")
    default = FAMILIES[family].default
    models = [
        export_model(
            fit_model(data, objective, family, default, 16, splits=refit),
            data,
            objective,
            family,
            default,
            16,
            splits=refit,
            **export_options,
        )
        for objective in ("valid_error", "elapsed_time")
    ]
    return assemble_surrogate(data, models, name=name)
