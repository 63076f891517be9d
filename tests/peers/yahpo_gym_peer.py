"""Runs inside a Python that has yahpo-gym 1.0.2 (its own environment: it pins numpy < 2).

Reads JSON from stdin: ``{"data_path": ..., "requests": [{"scenario", "instance",
"queries"}, ...]}``, where each query is a full configuration as yahpo-gym takes it
(hyperparameters, fidelity parameters and the instance). Evaluates each query with
``BenchmarkSet.objective_function`` on its own (one configuration per call, the usual use)
and writes, as JSON on stdout, per request a list of the float32 outputs (as exact float64
numbers) per query, in ``y_names`` order.

    python tests/peers/yahpo_gym_peer.py < request.json
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile


def main() -> None:
    request = json.load(sys.stdin)
    with tempfile.TemporaryDirectory() as folder:
        settings = os.path.join(folder, "yahpo_gym.yaml")
        with open(settings, "w") as stream:
            stream.write(f"data_path: {json.dumps(request['data_path'])}\n")
        os.environ["YAHPO_LOCAL_CONFIG"] = settings
        with contextlib.redirect_stdout(sys.stderr):  # yahpo-gym prints citations
            from yahpo_gym import BenchmarkSet

            answers = []
            for scenario in request["requests"]:
                benchmark = BenchmarkSet(scenario["scenario"], instance=scenario["instance"])
                answers.append([])
                for query in scenario["queries"]:
                    (result,) = benchmark.objective_function(query)
                    answers[-1].append([float(result[y]) for y in benchmark.config.y_names])
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
