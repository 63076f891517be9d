"""S3Mirror against a real S3-compatible server (moto) on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import boto3
import numpy as np
import pytest

from blackbox_repository import (
    ChecksumMismatchError,
    S3MirrorError,
    convert_blackbox,
    load_blackbox,
)
from blackbox_repository.cache import BlackboxCache
from blackbox_repository.file_format import METADATA_FILE, OBJECTIVES_FILE, read_metadata
from blackbox_repository.recipes import Recipe
from blackbox_repository.s3_mirror import S3Mirror, parse_s3_url
from blackbox_repository.tabular_entry import DERIVED_RECORD
from tests.blackbox_repository.conftest import (
    LCDB_NAME,
    MOTO_BUCKET,
    free_port,
    make_lcdb_recipe,
    python_subprocess,
)

MIRROR_URL = f"s3://{MOTO_BUCKET}/mirror"


def _refuse_conversion(name: str, raw_dir: Path):
    raise AssertionError(f"{name} was converted although it should come from the mirror")


def _mirror_only_recipe() -> Recipe:
    """The test recipe, except that converting fails: a load must come from the mirror."""
    recipe = make_lcdb_recipe()
    return Recipe(
        family=recipe.family,
        names=recipe.names,
        raw_files=recipe.raw_files,
        convert=_refuse_conversion,
    )


@pytest.fixture
def local_entry(tmp_path, shared_data_dir) -> Path:
    """A converted entry of the test blackbox in its own cache."""
    return convert_blackbox(LCDB_NAME, cache_dir=tmp_path / "source", recipe=make_lcdb_recipe())


@pytest.fixture
def mirror(s3_endpoint) -> S3Mirror:
    return S3Mirror(MIRROR_URL, endpoint_url=s3_endpoint)


def _cache_leftovers(cache_dir: Path) -> list[str]:
    blackboxes = cache_dir / "blackboxes"
    return sorted(p.name for p in blackboxes.iterdir()) if blackboxes.exists() else []


def test_upload_lists_entry_and_load_downloads_it_into_a_clean_cache(
    mirror, local_entry, lcdb_blackbox, fresh_cache_dir
):
    assert mirror.list() == []
    mirror.upload(LCDB_NAME, local_entry)
    assert mirror.list() == [LCDB_NAME]

    loaded = load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, s3_mirror=mirror, recipe=_mirror_only_recipe()
    )

    np.testing.assert_array_equal(loaded.values, lcdb_blackbox.values)
    entry = BlackboxCache(fresh_cache_dir).entry_path(LCDB_NAME)
    for path in local_entry.iterdir():
        if path.name == DERIVED_RECORD:  # records this machine's file stamps
            continue
        assert (entry / path.name).read_bytes() == path.read_bytes(), path.name
    assert _cache_leftovers(fresh_cache_dir) == [LCDB_NAME]


def test_objects_are_stored_under_name_and_content_hash(mirror, local_entry, s3_client):
    mirror.upload(LCDB_NAME, local_entry)
    keys = {item["Key"] for item in s3_client.list_objects_v2(Bucket=MOTO_BUCKET)["Contents"]}
    files = read_metadata(local_entry)["files"]
    expected = {f"mirror/{LCDB_NAME}/{METADATA_FILE}"} | {
        f"mirror/{LCDB_NAME}/{recorded['sha256']}/{file_name}"
        for file_name, recorded in files.items()
    }
    assert keys == expected


def test_download_of_an_absent_entry_returns_false_and_writes_nothing(mirror, tmp_path):
    destination = tmp_path / "staging"
    destination.mkdir()
    assert mirror.download(LCDB_NAME, destination) is False
    assert list(destination.iterdir()) == []


def test_corrupted_object_is_named_and_never_enters_the_cache(
    mirror, local_entry, s3_client, fresh_cache_dir, caplog
):
    mirror.upload(LCDB_NAME, local_entry)
    recorded = read_metadata(local_entry)["files"][OBJECTIVES_FILE]
    key = f"mirror/{LCDB_NAME}/{recorded['sha256']}/{OBJECTIVES_FILE}"
    original = (local_entry / OBJECTIVES_FILE).read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 0xFF  # same size, different bytes
    s3_client.put_object(Bucket=MOTO_BUCKET, Key=key, Body=bytes(tampered))

    with pytest.raises(ChecksumMismatchError) as raised:
        mirror.download(LCDB_NAME, fresh_cache_dir / "download")
    assert raised.value.path == f"s3://{MOTO_BUCKET}/{key}"
    assert f"s3://{MOTO_BUCKET}/{key}" in str(raised.value)
    # load_blackbox reports the bad object and falls back to conversion (refused here)
    with pytest.raises(AssertionError, match="was converted"):
        load_blackbox(
            LCDB_NAME, cache_dir=fresh_cache_dir, s3_mirror=mirror, recipe=_mirror_only_recipe()
        )
    assert f"checksum mismatch for s3://{MOTO_BUCKET}/{key}" in caplog.text
    shutil.rmtree(fresh_cache_dir / "download")
    assert not BlackboxCache(fresh_cache_dir).has_entry(LCDB_NAME)
    assert _cache_leftovers(fresh_cache_dir) == []  # no entry, no staging folder left


def test_corrupt_cache_entry_is_repaired_from_the_mirror(
    mirror, local_entry, lcdb_blackbox, fresh_cache_dir
):
    mirror.upload(LCDB_NAME, local_entry)
    load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, s3_mirror=mirror, recipe=_mirror_only_recipe()
    )
    cached = BlackboxCache(fresh_cache_dir).entry_path(LCDB_NAME) / OBJECTIVES_FILE
    cached.write_bytes(cached.read_bytes()[:-100])  # truncated

    repaired = load_blackbox(
        LCDB_NAME, cache_dir=fresh_cache_dir, s3_mirror=mirror, recipe=_mirror_only_recipe()
    )

    np.testing.assert_array_equal(repaired.values, lcdb_blackbox.values)
    assert cached.read_bytes() == (local_entry / OBJECTIVES_FILE).read_bytes()


def test_upload_refuses_a_corrupt_local_entry(mirror, local_entry, s3_client):
    path = local_entry / OBJECTIVES_FILE
    content = bytearray(path.read_bytes())
    content[10] ^= 0xFF
    path.write_bytes(bytes(content))

    with pytest.raises(ChecksumMismatchError, match=OBJECTIVES_FILE):
        mirror.upload(LCDB_NAME, local_entry)

    assert s3_client.list_objects_v2(Bucket=MOTO_BUCKET).get("KeyCount") == 0


UPLOAD_KILLED_AFTER_FIRST_OBJECT = """
import os, signal, sys
from pathlib import Path
from blackbox_repository.s3_mirror import S3Mirror

mirror = S3Mirror(sys.argv[1], endpoint_url=sys.argv[2])
# A crash right after the first object is stored: the process dies mid-upload.
mirror.client.meta.events.register(
    "after-call.s3.PutObject", lambda **kwargs: os.kill(os.getpid(), signal.SIGKILL)
)
mirror.upload(sys.argv[3], Path(sys.argv[4]))
"""


def test_interrupted_upload_is_not_listed_and_a_new_upload_completes_it(
    mirror, local_entry, s3_client, s3_endpoint, tmp_path
):
    process = python_subprocess(
        UPLOAD_KILLED_AFTER_FIRST_OBJECT, MIRROR_URL, s3_endpoint, LCDB_NAME, str(local_entry)
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, stderr

    keys = [item["Key"] for item in s3_client.list_objects_v2(Bucket=MOTO_BUCKET)["Contents"]]
    assert len(keys) == 1 and not keys[0].endswith(METADATA_FILE)  # one data object only
    assert mirror.list() == []
    staging = tmp_path / "staging"
    staging.mkdir()
    assert mirror.download(LCDB_NAME, staging) is False

    mirror.upload(LCDB_NAME, local_entry)
    assert mirror.list() == [LCDB_NAME]


def test_wrong_credentials_are_a_clear_error(authenticating_s3_endpoint, local_entry, monkeypatch):
    iam = boto3.client("iam", endpoint_url=authenticating_s3_endpoint)
    iam.create_user(UserName="mirror-writer")
    iam.put_user_policy(
        UserName="mirror-writer",
        PolicyName="s3-all",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="mirror-writer")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    S3Mirror(MIRROR_URL, endpoint_url=authenticating_s3_endpoint).upload(LCDB_NAME, local_entry)

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    wrong_secret = S3Mirror(MIRROR_URL, endpoint_url=authenticating_s3_endpoint)
    with pytest.raises(S3MirrorError, match="refused the credentials.*SignatureDoesNotMatch"):
        wrong_secret.list()

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNUNKNOWN00")
    unknown_key = S3Mirror(MIRROR_URL, endpoint_url=authenticating_s3_endpoint)
    with pytest.raises(S3MirrorError, match="refused the credentials.*InvalidAccessKeyId"):
        unknown_key.download(LCDB_NAME, Path("unused"))


def test_unreachable_endpoint_is_a_clear_error(aws_test_credentials, local_entry, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    mirror = S3Mirror(MIRROR_URL, endpoint_url=endpoint, max_attempts=1)
    with pytest.raises(S3MirrorError, match=f"cannot reach the S3 endpoint at {endpoint}"):
        mirror.list()
    with pytest.raises(S3MirrorError, match="cannot reach"):
        mirror.download(LCDB_NAME, tmp_path)
    with pytest.raises(S3MirrorError, match="cannot reach"):
        mirror.upload(LCDB_NAME, local_entry)


def test_missing_bucket_is_a_clear_error(s3_endpoint, tmp_path):
    mirror = S3Mirror("s3://no-such-bucket/mirror", endpoint_url=s3_endpoint)
    with pytest.raises(S3MirrorError, match="bucket 'no-such-bucket' does not exist"):
        mirror.list()
    with pytest.raises(S3MirrorError, match="bucket 'no-such-bucket' does not exist"):
        mirror.download(LCDB_NAME, tmp_path)


@pytest.mark.parametrize(
    "url", ["http://bucket/prefix", "bucket/prefix", "s3://", "s3://Upper_Case/x", "s3://ab", ""]
)
def test_malformed_mirror_url_is_a_clear_error(url):
    with pytest.raises(S3MirrorError, match="S3 mirror URL"):
        S3Mirror(url)


def test_malformed_endpoint_url_is_a_clear_error(aws_test_credentials):
    with pytest.raises(S3MirrorError, match="endpoint URL 'not a url' is malformed"):
        S3Mirror(MIRROR_URL, endpoint_url="not a url")


def test_url_is_split_into_bucket_and_prefix():
    assert parse_s3_url("s3://my-bucket/a/b/").bucket == "my-bucket"
    assert parse_s3_url("s3://my-bucket/a/b/").prefix == "a/b"
    assert parse_s3_url("s3://my-bucket").url == "s3://my-bucket"
    assert parse_s3_url("s3://my-bucket/a/").key("x", "y") == "a/x/y"
    assert parse_s3_url("s3://my-bucket").key("x", "y") == "x/y"


def test_from_env_reads_mirror_and_endpoint(monkeypatch, aws_test_credentials):
    assert S3Mirror.from_env() is None
    monkeypatch.setenv("SIMTUNE_S3_MIRROR", "s3://my-bucket/simtune/")
    monkeypatch.setenv("SIMTUNE_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    mirror = S3Mirror.from_env()
    assert mirror.url == "s3://my-bucket/simtune"
    assert mirror.endpoint_url == "http://127.0.0.1:9"


def test_load_blackbox_uses_the_mirror_from_the_environment(
    mirror, local_entry, lcdb_blackbox, fresh_cache_dir, s3_endpoint, monkeypatch
):
    mirror.upload(LCDB_NAME, local_entry)
    monkeypatch.setenv("SIMTUNE_S3_MIRROR", MIRROR_URL)
    monkeypatch.setenv("SIMTUNE_S3_ENDPOINT_URL", s3_endpoint)

    loaded = load_blackbox(LCDB_NAME, cache_dir=fresh_cache_dir, recipe=_mirror_only_recipe())

    np.testing.assert_array_equal(loaded.values, lcdb_blackbox.values)


def test_missing_aws_profile_is_a_clear_error(aws_test_credentials, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(S3MirrorError, match="no-such-profile"):
        S3Mirror(MIRROR_URL)


def test_without_credentials_a_public_mirror_is_still_readable(
    mirror, local_entry, monkeypatch, s3_endpoint
):
    mirror.upload(LCDB_NAME, local_entry)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert S3Mirror(MIRROR_URL, endpoint_url=s3_endpoint).list() == [LCDB_NAME]
