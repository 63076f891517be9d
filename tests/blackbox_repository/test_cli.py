"""``simtune blackbox ...`` in real processes (``python -m benchmarking.cli``), against the
real recipe registry, real raw data and a real S3-compatible server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from benchmarking.cli import main
from blackbox_repository import convert_blackbox
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.recipes import all_recipes
from blackbox_repository.tabular_entry import DERIVED_RECORD
from tests.blackbox_repository.conftest import (
    LCDB_NAME,
    MOTO_BUCKET,
    REPO_ROOT,
    free_port,
    make_lcdb_recipe,
)


def simtune(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarking.cli", *map(str, args)],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def registry_name() -> tuple[str, str]:
    """A small real benchmark of the registry (LCDB's OpenML dataset 3): (name, family)."""
    recipe = next(recipe for recipe in all_recipes() if recipe.family == "lcdb")
    return recipe.names[0], recipe.family


@pytest.mark.usefixtures("shared_data_dir")
def test_info_converts_then_list_shows_it_cached(capsys, fresh_cache_dir, registry_name):
    name, family = registry_name

    info = simtune("blackbox", "info", name, "--cache-dir", fresh_cache_dir)
    assert info.returncode == 0, info.stderr
    assert f"{name} (tabular)" in info.stdout
    for part in ("search space", "fidelity:", "seeds:", "objectives:", "(elapsed time)"):
        assert part in info.stdout
    assert BlackboxCache(fresh_cache_dir).has_entry(name)

    assert main(["blackbox", "list", "--family", family, "--cache-dir", str(fresh_cache_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "FAMILY", "CACHED"]
    assert [name, family, "yes"] in [line.split() for line in lines]
    assert all(line.split()[1] == family for line in lines[1:-1])  # the filter holds


def test_unknown_name_is_one_line_suggesting_close_names(registry_name):
    name, _ = registry_name
    result = simtune("blackbox", "info", name[:-1])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"simtune: error: unknown blackbox '{name[:-1]}'")
    assert name in result.stderr.split("Did you mean:")[1]


@pytest.mark.usefixtures("shared_data_dir")
def test_upload_and_download_through_a_mirror(s3_endpoint, tmp_path, registry_name):
    name, _ = registry_name
    mirror_url = f"s3://{MOTO_BUCKET}/cli"
    source, target = tmp_path / "source", tmp_path / "target"

    uploaded = simtune(
        "blackbox", "upload", name, mirror_url, "--endpoint-url", s3_endpoint, "--cache-dir", source
    )
    assert uploaded.returncode == 0, uploaded.stderr
    assert f"uploaded {name} to {mirror_url}/{name}" in uploaded.stdout

    downloaded = simtune(
        "blackbox", "download", name, "--mirror", mirror_url, "--endpoint-url", s3_endpoint,
        "--cache-dir", target,
    )  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr
    source_entry = BlackboxCache(source).entry_path(name)
    target_entry = BlackboxCache(target).entry_path(name)
    assert sorted(p.name for p in target_entry.iterdir()) == sorted(
        p.name for p in source_entry.iterdir()
    )
    for path in source_entry.iterdir():
        if path.name == DERIVED_RECORD:  # records this machine's file stamps
            continue
        assert (target_entry / path.name).read_bytes() == path.read_bytes()


@pytest.mark.usefixtures("shared_data_dir")
def test_download_of_a_name_the_mirror_lacks_lists_what_it_holds(
    capsys, s3_endpoint, tmp_path, registry_name
):
    name, _ = registry_name
    mirror_url = f"s3://{MOTO_BUCKET}/cli"
    source = str(tmp_path / "source")
    upload = ["blackbox", "upload", name, mirror_url, "--endpoint-url", s3_endpoint]
    assert main([*upload, "--cache-dir", source]) == 0
    code = main(
        ["blackbox", "download", "xgboost-mnist", "--mirror", mirror_url]
        + ["--endpoint-url", s3_endpoint, "--cache-dir", str(tmp_path / "target")]
    )
    assert code == 2
    assert (
        f"does not hold 'xgboost-mnist'. It holds 1 blackboxes: {name}" in capsys.readouterr().err
    )
    assert not BlackboxCache(tmp_path / "target").has_entry("xgboost-mnist")


def test_unreachable_endpoint_is_one_clear_line(
    capsys, tmp_path, registry_name, aws_test_credentials
):
    name, _ = registry_name
    endpoint = f"http://127.0.0.1:{free_port()}"
    code = main(
        ["blackbox", "download", name, "--mirror", f"s3://{MOTO_BUCKET}/cli"]
        + ["--endpoint-url", endpoint, "--cache-dir", str(tmp_path)]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith(f"simtune: error: cannot reach the S3 endpoint at {endpoint}")
    assert error.count("\n") == 1


@pytest.mark.usefixtures("shared_data_dir")
def test_convert_force_converts_again(capsys, fresh_cache_dir, registry_name):
    name, _ = registry_name
    assert main(["blackbox", "convert", name, "--cache-dir", str(fresh_cache_dir)]) == 0
    entry = BlackboxCache(fresh_cache_dir).entry_path(name)
    first_inode = entry.stat().st_ino
    assert main(["blackbox", "convert", name, "--cache-dir", str(fresh_cache_dir)]) == 0
    assert entry.stat().st_ino == first_inode  # a sound entry is kept
    assert main(["blackbox", "convert", name, "--force", "--cache-dir", str(fresh_cache_dir)]) == 0
    assert entry.stat().st_ino != first_inode  # replaced by a new folder
    assert str(entry) in capsys.readouterr().out


# In-process runs of the same entry point (main), for the cheap paths.
def test_download_without_a_mirror_says_how_to_give_one(capsys, fresh_cache_dir):
    assert main(["blackbox", "download", "xgboost-mnist", "--cache-dir", str(fresh_cache_dir)]) == 2
    assert "pass --mirror s3://bucket/prefix or set $SIMTUNE_S3_MIRROR" in capsys.readouterr().err


def test_malformed_mirror_url_is_an_error(capsys, fresh_cache_dir):
    code = main(
        [
            "blackbox",
            "upload",
            "xgboost-mnist",
            "bucket/prefix",
            "--cache-dir",
            str(fresh_cache_dir),
        ]
    )
    assert code == 2
    assert "S3 mirror URL 'bucket/prefix' is malformed" in capsys.readouterr().err


def test_unknown_family_suggests_close_ones(capsys, registry_name):
    _, family = registry_name
    assert main(["blackbox", "list", "--family", family[::-1]]) == 2
    assert "Families:" in capsys.readouterr().err


def test_download_keeps_a_sound_cached_entry(
    capsys, s3_endpoint, lcdb_blackbox, fresh_cache_dir, registry_name
):
    name, _ = registry_name
    assert main(["blackbox", "convert", name, "--cache-dir", str(fresh_cache_dir)]) == 0
    code = main(
        ["blackbox", "download", name, "--mirror", f"s3://{MOTO_BUCKET}/empty"]
        + ["--endpoint-url", s3_endpoint, "--cache-dir", str(fresh_cache_dir)]
    )
    assert code == 0
    assert f"{name} is already cached" in capsys.readouterr().out


@pytest.mark.usefixtures("shared_data_dir")
def test_info_describes_a_cached_entry_that_no_recipe_provides(capsys, fresh_cache_dir):
    convert_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=make_lcdb_recipe())
    assert main(["blackbox", "info", LCDB_NAME, "--cache-dir", str(fresh_cache_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{LCDB_NAME} (tabular)")
    assert "fidelity: size_train, 16 values" in out


def test_list_piped_into_a_closed_reader_exits_quietly():
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarking.cli", "blackbox", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.close()  # the reader is gone before anything is written: every write fails
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in stderr
