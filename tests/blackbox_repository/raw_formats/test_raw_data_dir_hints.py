"""``SIMTUNE_RAW_DATA_DIR`` pointing one level too high: the error names the local path
looked for and the folder to point at instead, not only the failed download."""

from __future__ import annotations

import hashlib

import pytest

from blackbox_repository.errors import DownloadError
from blackbox_repository.raw_files import fetch_raw_files
from blackbox_repository.recipes import RawFile


def test_a_raw_data_folder_one_level_too_high_is_named_with_the_right_one(
    tmp_path, unreachable_url, monkeypatch
):
    content = b"learner,size_train,score_valid\n"
    raw_file = RawFile(
        path="lcdb/rows.csv", url=unreachable_url, sha256=hashlib.sha256(content).hexdigest()
    )
    right = tmp_path / "shared" / "data"
    (right / "lcdb").mkdir(parents=True)
    (right / "lcdb" / "rows.csv").write_bytes(content)
    too_high = tmp_path / "shared"
    monkeypatch.setenv("SIMTUNE_RAW_DATA_DIR", str(too_high))
    with pytest.raises(DownloadError) as error:
        fetch_raw_files([raw_file], tmp_path / "downloads")
    message = str(error.value)
    assert f"{too_high / 'lcdb' / 'rows.csv'} does not exist" in message
    assert f"point $SIMTUNE_RAW_DATA_DIR at {right}" in message
    assert "cannot download" in message  # the download error is kept too
    monkeypatch.setenv("SIMTUNE_RAW_DATA_DIR", str(right))
    assert fetch_raw_files([raw_file], tmp_path / "downloads") == right  # the hint works


def test_without_a_deeper_copy_the_error_says_where_to_put_the_file(tmp_path, unreachable_url):
    raw_file = RawFile(path="lcdb/rows.csv", url=unreachable_url, sha256=None)
    with pytest.raises(DownloadError, match=r"lcdb/rows.csv does not exist; put the original"):
        fetch_raw_files([raw_file], tmp_path / "downloads", raw_data_dir=tmp_path / "empty")
