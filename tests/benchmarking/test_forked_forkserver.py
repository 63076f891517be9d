"""The forkserver forked from the study's process: its workers start with what the study's
process imported, it is refused while the process has a second thread, it ends with the
process, and a Dask study whose workers it forked (or, in a process with threads, Python's
own forkserver) writes the same bytes as one process."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.benchmarking.study_helpers import SHORT_SETTINGS
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or sys.version_info >= (3, 14),
    reason="this machine's Python gets its own forkserver (Linux, CPython 3.10-3.13 only)",
)

FORKSERVER_SCRIPT = """
import json, multiprocessing, os, sys, threading, types
from benchmarking.forked_forkserver import can_fork_forkserver, start_forkserver_as_fork

def probe():
    from multiprocessing import forkserver
    started = threading.Event()  # a worker can start a forkserver of its own
    threading.Thread(target=lambda: (forkserver.ensure_running(), started.set()), daemon=True).start()
    return (os.getppid(), "simtune_parent_marker" in sys.modules, "colorsys" in sys.modules,
            started.wait(30))

if __name__ == "__main__":
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    refused = (can_fork_forkserver(), start_forkserver_as_fork(["colorsys"]))
    release.set()
    thread.join()
    sys.modules["simtune_parent_marker"] = types.ModuleType("simtune_parent_marker")
    started = start_forkserver_as_fork(["colorsys"])
    with multiprocessing.get_context("forkserver").Pool(1) as pool:
        server_pid, has_marker, has_preloaded, nested = pool.apply(probe)
    print(json.dumps({"refused": refused, "started": started, "server": server_pid,
                      "marker": has_marker, "preloaded": has_preloaded,
                      "colorsys_here": "colorsys" in sys.modules, "nested": nested,
                      "again": start_forkserver_as_fork([])}))
"""

DASK_STUDY_SCRIPT = """
import json, os, sys, threading
import psutil
from benchmarking.benchmark_definitions import benchmark_definition
from benchmarking.executors import make_executor
from benchmarking.study import Study, execute_study

if __name__ == "__main__":
    settings = json.loads(sys.argv[2])
    benchmarks = [benchmark_definition(n).with_overrides(**s) for n, s in settings.items()]
    study = Study.from_names(["RS", "ASHA"], benchmarks, [0, 1])
    if sys.argv[3] == "with a thread":  # e.g. a Jupyter kernel: Python's own forkserver
        release = threading.Event()
        threading.Thread(target=release.wait, daemon=True).start()
    with make_executor("dask", n_jobs=2) as executor:
        parents = set(executor.client.run(os.getppid).values())
        report = execute_study(study, sys.argv[1], executor=executor)
    print(json.dumps({
        "completed": report.n_completed,
        "parents_forked_from_here": [
            psutil.Process(p).ppid() == os.getpid()
            and psutil.Process(p).cmdline() == psutil.Process().cmdline()
            for p in parents
        ],
    }))
"""


def run_script(tmp_path: Path, source: str, *arguments: str) -> dict:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    finished = subprocess.run(
        [sys.executable, str(script), *arguments],
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_the_forked_server_has_the_parents_imports_and_ends_with_it(tmp_path):
    reported = run_script(tmp_path, FORKSERVER_SCRIPT)
    assert reported["refused"] == [False, False]  # a second thread was running
    assert reported["started"] is True and reported["again"] is False
    assert reported["marker"] is True  # the worker has what the parent had imported
    assert reported["preloaded"] is True and reported["colorsys_here"] is False
    assert reported["nested"] is True
    with contextlib.suppress(psutil.NoSuchProcess):  # it exits once its parent has ended
        psutil.Process(reported["server"]).wait(timeout=15)
    assert not psutil.pid_exists(reported["server"])


@pytest.fixture(scope="module")
def one_process_study(shared_data_dir, tmp_path_factory) -> Path:
    """The study of ``DASK_STUDY_SCRIPT`` run in this process: the reference bytes."""
    from benchmarking.benchmark_definitions import benchmark_definition
    from benchmarking.study import Study, execute_study

    out = tmp_path_factory.mktemp("one-process") / "study"
    benchmarks = [benchmark_definition(n).with_overrides(**s) for n, s in SHORT_SETTINGS.items()]
    study = Study.from_names(["RS", "ASHA"], benchmarks, [0, 1])
    assert execute_study(study, out, executor="inprocess").n_completed == 8
    return out


@pytest.mark.timeout(300)
@pytest.mark.parametrize("threads", ["single-threaded", "with a thread"])
def test_a_dask_study_writes_the_same_bytes_as_one_process(tmp_path, threads, one_process_study):
    on_dask = run_script(
        tmp_path, DASK_STUDY_SCRIPT, str(tmp_path / "dask"), json.dumps(SHORT_SETTINGS), threads
    )
    forked = threads == "single-threaded"  # else Python's forkserver, workers import simtune
    assert on_dask == {"completed": 8, "parents_forked_from_here": [forked]}
    files = sorted(
        p.relative_to(one_process_study) for p in (one_process_study / "runs").rglob("*")
    )
    assert len([f for f in files if f.name == "metadata.json"]) == 8
    for relative in files:
        one, dask = one_process_study / relative, tmp_path / "dask" / relative
        assert one.is_dir() == dask.is_dir()
        if one.is_file():
            assert one.read_bytes() == dask.read_bytes(), relative
