#!/usr/bin/env bash
# Installs Syne Tune 0.16.0, the peer simtune is compared with (tests/peers/, benchmarks/),
# the light way: without its declared dependency set, whose xgboost pulls NCCL (~1.1 GB in
# all). About 460 MB instead. Idempotent: re-running installs nothing new. Fails loudly.
#
#   bash scripts/install_peer_extras.sh            # uses `python` on PATH
#   PYTHON=/path/to/python bash scripts/install_peer_extras.sh
#
# Never install dehb here: it pins numpy < 2, which breaks pyarrow 26.
# yahpo-gym (numpy < 2 too) gets its own environment in .peer-venvs/ (step 4).
set -euo pipefail

PYTHON="${PYTHON:-python}"

# pip's after-install conflict report is switched off (--no-warn-conflicts) in steps 1 to
# 3: Syne Tune declares `xgboost`, which xgboost-cpu provides under another distribution
# name, so pip would print "ERROR: pip's dependency resolver ..." on a correct install.
# Step 3b runs `pip check` itself and fails on any other unmet requirement of the peers.

# 1. What Syne Tune's Tuner, schedulers, simulator backend and blackbox repository import
#    at runtime: its declared dependencies with xgboost-cpu (no NCCL) in place of xgboost,
#    plus huggingface_hub, which syne_tune.blackbox_repository imports at module level, and
#    fastparquet, which its blackbox serialization (benchmarks/blackbox_lookup.py) needs.
#    Installed first, so that no step installs Syne Tune before what it needs.
"$PYTHON" -m pip install --no-warn-conflicts \
    "xgboost-cpu==3.2.0" \
    "cloudpickle==3.1.2" \
    "dill==0.4.1" \
    "sortedcontainers>=2.4" \
    "statsmodels==0.15.0" \
    "scikit-learn>=1.3" \
    "psutil>=5.9" \
    "tqdm>=4.66" \
    "typing_extensions>=4.10" \
    "huggingface_hub==2.4.0" \
    "fastparquet==2026.9.0"

# 2. Syne Tune itself, without resolving its dependencies.
"$PYTHON" -m pip install --no-deps --no-warn-conflicts "syne-tune==0.16.0"

# 3. Optimizers that run their own workers, for the wrapped-objective tests
#    (tests/simulated_backend/wrapped_objective/) and their peer in
#    benchmarks/wrapper_throughput.py. smac brings dask-jobqueue, pynisher, emcee (~330 MB
#    with scikit-learn); hpbandster builds netifaces from source (needs a C compiler);
#    mfhpo-simulator adds only ujson.
"$PYTHON" -m pip install --no-warn-conflicts "smac==2.4.1" "hpbandster==0.7.4" "mfhpo-simulator==1.4.6"

# 3b. Every requirement of these peers is met, except Syne Tune's `xgboost` (xgboost-cpu).
unmet="$("$PYTHON" -m pip check 2>&1 | grep -E '^(syne-tune|smac|hpbandster|mfhpo-simulator) ' | grep -v ' requires xgboost, which is not installed' || true)"
if [ -n "$unmet" ]; then
    echo "requirements of the peers are not met:" >&2
    echo "$unmet" >&2
    exit 1
fi
echo "the peers' requirements are met (Syne Tune's 'xgboost' by xgboost-cpu, which provides the same module)"

# 4. Check that everything the peer tests and benchmarks use imports.
"$PYTHON" - <<'PY'
import syne_tune
from syne_tune import StoppingCriterion, Tuner  # noqa: F401
from syne_tune.backend.simulator_backend.simulator_callback import SimulatorCallback  # noqa: F401
from syne_tune.blackbox_repository.blackbox_tabular import BlackboxTabular  # noqa: F401
from syne_tune.blackbox_repository.simulated_tabular_backend import UserBlackboxBackend  # noqa: F401
from syne_tune.optimizer.baselines import ASHA, RandomSearch  # noqa: F401

assert syne_tune.__version__ == "0.16.0", syne_tune.__version__
print(f"syne-tune {syne_tune.__version__} is installed and imports")
import benchmark_simulator  # noqa: F401  (mfhpo-simulator)
import hpbandster  # noqa: F401
import smac  # noqa: F401
from smac.intensifier.hyperband import Hyperband  # noqa: F401
print("smac, hpbandster and mfhpo-simulator are installed and import")
PY

# 5. yahpo-gym 1.0.2, the peer of the YAHPO surrogates (tests/peers/test_yahpo_matches_yahpo_gym.py),
#    in its own virtual environment: it pins numpy < 2 and ConfigSpace <= 0.6.1. About 435 MB.
#    It gets the onnxruntime of the main environment: bit-for-bit comparison needs the same one.
YAHPO_VENV="$(cd "$(dirname "$0")/.." && pwd)/.peer-venvs/yahpo-gym-1.0.2"
ONNXRUNTIME_VERSION="$("$PYTHON" -c 'import onnxruntime; print(onnxruntime.__version__)')"
if [ ! -x "$YAHPO_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$YAHPO_VENV"
fi
"$YAHPO_VENV/bin/python" -m pip install \
    "yahpo-gym==1.0.2" \
    "numpy==1.26.4" \
    "ConfigSpace==0.6.1" \
    "onnxruntime==$ONNXRUNTIME_VERSION"
"$YAHPO_VENV/bin/python" -c "
import onnxruntime, yahpo_gym.benchmark_set  # noqa: F401
print(f'yahpo-gym 1.0.2 with onnxruntime {onnxruntime.__version__} is installed in $YAHPO_VENV')
"
