"""A mirror of converted blackbox entries on S3 or any S3-compatible store.

Layout below ``s3://bucket/prefix``::

    <name>/metadata.json              the entry's metadata.json, byte for byte
    <name>/<sha256>/<file name>       each data file, under its own sha256

Data files are content-addressed and uploaded first; ``metadata.json`` is uploaded last,
so an entry is visible (listed, downloadable) only once all its files are there, and
re-uploading a changed entry never mixes old and new files: readers see the old
metadata and old files until the new metadata replaces it in one PUT.

Every uploaded object is checked against what the store reports it holds (its size and
its SHA-256 checksum or MD5 ETag, compared by this module, since some S3-compatible
stores do not reject a wrong checksum header), and every downloaded file is checked
against the sha256 recorded in the downloaded metadata.

Example:
    >>> mirror = S3Mirror("s3://my-bucket/simtune", endpoint_url="http://127.0.0.1:9000")  # doctest: +SKIP
    >>> mirror.upload("xgboost-mnist", cache.entry_path("xgboost-mnist"))  # doctest: +SKIP
    >>> mirror.list()  # doctest: +SKIP
    ['xgboost-mnist']
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blackbox_repository.cache import check_entry_name
from blackbox_repository.entry_metadata import (
    METADATA_FILE,
    entry_file,
    parse_metadata,
    read_metadata,
)
from blackbox_repository.errors import ChecksumMismatchError, CorruptBlackboxError, S3MirrorError

S3_MIRROR_ENV_VAR = "SIMTUNE_S3_MIRROR"
S3_ENDPOINT_ENV_VAR = "SIMTUNE_S3_ENDPOINT_URL"

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CHUNK_SIZE = 1 << 20
MAX_METADATA_BYTES = 16 << 20  # a metadata.json is a few kB; anything this big is not one
_CREDENTIAL_ERRORS = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}
_MISSING_KEY_ERRORS = {"NoSuchKey", "404", "NotFound"}


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix (no leading or trailing slash; may be empty)."""

    bucket: str
    prefix: str

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)


def parse_s3_url(url: str) -> S3Location:
    """Split ``s3://bucket/prefix`` into bucket and prefix; anything else is S3MirrorError."""
    if not isinstance(url, str) or not url.startswith("s3://"):
        raise S3MirrorError(
            f"S3 mirror URL {url!r} is malformed: expected s3://bucket or s3://bucket/prefix"
        )
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_NAME.match(bucket):
        raise S3MirrorError(
            f"S3 mirror URL {url!r} has an invalid bucket name {bucket!r}: bucket names are "
            "3 to 63 lowercase letters, digits, '.' and '-', e.g. s3://my-bucket/simtune"
        )
    prefix = prefix.strip("/")
    if "//" in prefix:
        raise S3MirrorError(f"S3 mirror URL {url!r} has an empty path segment ('//') in its prefix")
    return S3Location(bucket=bucket, prefix=prefix)


@dataclass(frozen=True)
class _FileDigest:
    sha256_hex: str
    md5_hex: str
    size: int

    @property
    def sha256_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


def _digest_file(path: Path) -> _FileDigest:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK_SIZE):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return _FileDigest(sha256.hexdigest(), md5.hexdigest(), size)


class S3Mirror:
    """Converted blackbox entries stored below ``s3://bucket/prefix``.

    Args:
        url: ``s3://bucket`` or ``s3://bucket/prefix``.
        endpoint_url: an S3-compatible endpoint (MinIO, moto, ...); default AWS, or
            ``$AWS_ENDPOINT_URL`` as boto3 reads it.
        connect_timeout: seconds to wait for a connection before giving up.
        read_timeout: seconds to wait for data on an open connection.
        max_attempts: total tries per request (1 means no retry), so that an unreachable
            endpoint fails in seconds rather than minutes.

    Credentials come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    ``AWS_PROFILE``, instance roles). Without any credentials, requests are sent unsigned,
    which is enough to download from a public mirror.
    """

    def __init__(
        self,
        url: str,
        endpoint_url: str | None = None,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 60.0,
        max_attempts: int = 2,
    ) -> None:
        self.location = parse_s3_url(url)
        self.url = self.location.url
        self.endpoint_url = endpoint_url or None
        self.client = self._make_client(connect_timeout, read_timeout, max_attempts)

    @classmethod
    def from_env(cls) -> S3Mirror | None:
        """The mirror named by ``$SIMTUNE_S3_MIRROR`` (endpoint ``$SIMTUNE_S3_ENDPOINT_URL``), if set."""
        url = os.environ.get(S3_MIRROR_ENV_VAR)
        if not url:
            return None
        return cls(url, endpoint_url=os.environ.get(S3_ENDPOINT_ENV_VAR) or None)

    def _make_client(self, connect_timeout: float, read_timeout: float, max_attempts: int):
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        try:
            session = boto3.session.Session()
            credentials = session.get_credentials()
        except BotoCoreError as error:  # e.g. AWS_PROFILE names a profile that does not exist
            raise S3MirrorError(f"cannot set up AWS credentials for {self.url}: {error}") from None
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path"} if self.endpoint_url else None,
            signature_version=UNSIGNED if credentials is None else None,
        )
        try:
            return session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=session.region_name or "us-east-1",
                config=config,
            )
        except ValueError as error:
            raise S3MirrorError(
                f"S3 endpoint URL {self.endpoint_url!r} is malformed ({error}); "
                "expected e.g. http://127.0.0.1:9000 or https://s3.example.com"
            ) from None

    def __repr__(self) -> str:
        endpoint = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"S3Mirror({self.url!r}{endpoint})"

    # ----------------------------------------------------------------- errors
    @contextlib.contextmanager
    def _s3_errors(self, action: str) -> Iterator[None]:
        """Turn botocore's exceptions into S3MirrorError saying what failed and what to do."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import ConnectionError as BotoConnectionError

        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _CREDENTIAL_ERRORS:
                raise S3MirrorError(
                    f"S3{where} refused the credentials while {action} ({code}): check "
                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and that they "
                    f"may access {self.url}"
                ) from None
            if code == "NoSuchBucket":
                raise S3MirrorError(
                    f"bucket {self.location.bucket!r} does not exist{where} (while {action}); "
                    "create it or fix the mirror URL"
                ) from None
            raise S3MirrorError(f"S3 error{where} while {action}: {error}") from None
        except (BotoConnectionError, HTTPClientError) as error:
            raise S3MirrorError(
                f"cannot reach the S3 endpoint{where or ' of AWS'} while {action}: {error}. "
                f"Check the endpoint URL (--endpoint-url or ${S3_ENDPOINT_ENV_VAR}) and the network"
            ) from None
        except (NoCredentialsError, PartialCredentialsError) as error:
            raise S3MirrorError(
                f"no usable AWS credentials while {action}: {error}. Set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
            ) from None
        except BotoCoreError as error:
            raise S3MirrorError(f"S3 request failed{where} while {action}: {error}") from None

    @staticmethod
    def _is_missing(error: Exception) -> bool:
        from botocore.exceptions import ClientError

        return isinstance(error, ClientError) and (
            str(error.response.get("Error", {}).get("Code", "")) in _MISSING_KEY_ERRORS
        )

    # ----------------------------------------------------------------- listing
    def list(self) -> list[str]:
        """Names of the complete entries on the mirror (those whose metadata.json is there)."""
        root = self.location.key() + "/" if self.location.prefix else ""
        names = set()
        with self._s3_errors(f"listing {self.url}"):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.location.bucket, Prefix=root):
                for item in page.get("Contents", ()):
                    name, _, rest = item["Key"][len(root) :].partition("/")
                    if rest == METADATA_FILE:
                        names.add(name)
        return sorted(names)

    def object_url(self, key: str) -> str:
        return f"s3://{self.location.bucket}/{key}"

    def metadata_key(self, name: str) -> str:
        return self.location.key(check_entry_name(name), METADATA_FILE)

    def data_key(self, name: str, file_name: str, sha256_hex: str) -> str:
        return self.location.key(check_entry_name(name), sha256_hex, file_name)

    # ----------------------------------------------------------------- download
    def download(self, name: str, destination: Path, progress: bool = False) -> bool:
        """Download the entry ``name`` into the (staging) folder ``destination``.

        Returns False if the mirror does not hold ``name``. Every data file is verified
        against the sha256 in the downloaded metadata (ChecksumMismatchError naming the S3
        object otherwise); metadata.json is written last.
        """
        destination = Path(destination)
        metadata_key = self.metadata_key(name)
        metadata_bytes = self._get_metadata_bytes(metadata_key)
        if metadata_bytes is None:
            return False
        metadata_url = self.object_url(metadata_key)
        # the same checks as a local read, naming the S3 object (re-upload fixes them)
        metadata = parse_metadata(
            metadata_bytes, f"{metadata_url} (mirror entry; re-upload it)", expected_name=name
        )
        files = metadata["files"]
        destination.mkdir(parents=True, exist_ok=True)
        with _progress_bar(progress) as bar:
            for file_name, recorded in files.items():
                key = self.data_key(name, file_name, recorded["sha256"])
                self._download_file(key, destination / file_name, recorded, bar)
        _write_bytes_durably(destination / METADATA_FILE, metadata_bytes)
        return True

    def _get_metadata_bytes(self, key: str) -> bytes | None:
        with self._s3_errors(f"reading {self.object_url(key)}"):
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            except Exception as error:
                if self._is_missing(error):
                    return None
                raise
            size = response.get("ContentLength")
            if size is None or size > MAX_METADATA_BYTES:
                response["Body"].close()
                raise CorruptBlackboxError(
                    f"{self.object_url(key)} has {size} bytes, more than a metadata.json can "
                    f"({MAX_METADATA_BYTES}); refusing to download it: the mirror entry is "
                    "corrupt or hostile, re-upload it"
                )
            return response["Body"].read(MAX_METADATA_BYTES + 1)

    def _download_file(self, key: str, path: Path, recorded: dict[str, Any], bar) -> None:
        object_url = self.object_url(key)
        expected_size = recorded["bytes"]
        task = bar.add_task(f"download {path.name}", total=expected_size) if bar else None
        digest = hashlib.sha256()
        size = 0
        with self._s3_errors(f"downloading {object_url}"):
            try:
                response = self.client.get_object(Bucket=self.location.bucket, Key=key)
            except Exception as error:
                if self._is_missing(error):
                    raise CorruptBlackboxError(
                        f"{object_url} is missing although its metadata.json is on the mirror; "
                        "the mirror entry is incomplete, re-upload it"
                    ) from None
                raise
            announced = response.get("ContentLength")
            if announced != expected_size:  # refused before its body is read
                response["Body"].close()
                raise CorruptBlackboxError(
                    f"{object_url} has {announced} bytes but its metadata.json records "
                    f"{expected_size}; refusing to download it: the mirror entry is corrupt, "
                    "re-upload it"
                )
            with open(path, "wb") as out:
                for chunk in response["Body"].iter_chunks(_CHUNK_SIZE):
                    size += len(chunk)
                    if size > expected_size:
                        break  # a store that sends more than it announced
                    out.write(chunk)
                    digest.update(chunk)
                    if task is not None:
                        bar.update(task, completed=size)
                out.flush()
                os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != recorded["sha256"] or size != expected_size:
            path.unlink()
            raise ChecksumMismatchError(object_url, recorded["sha256"], actual)

    # ----------------------------------------------------------------- upload
    def upload(self, name: str, entry_dir: Path, progress: bool = False) -> None:
        """Upload the complete local entry ``entry_dir`` as ``name``: data files, then metadata.

        The local files are verified against their recorded sha256 first (a corrupt entry is
        never uploaded), and each upload is verified against what the store reports.
        """
        entry_dir = Path(entry_dir)
        metadata = read_metadata(entry_dir, expected_name=name)
        files = metadata["files"]
        digests = {}
        for file_name, recorded in files.items():  # verify everything before sending anything
            path = entry_file(entry_dir, file_name)
            if not path.exists():
                raise CorruptBlackboxError(f"{path} is missing from blackbox entry {entry_dir}")
            digests[file_name] = _digest_file(path)
            if digests[file_name].sha256_hex != recorded.get("sha256"):
                raise ChecksumMismatchError(
                    str(path), str(recorded.get("sha256")), digests[file_name].sha256_hex
                )
        with _progress_bar(progress) as bar:
            for file_name, digest in digests.items():
                key = self.data_key(name, file_name, digest.sha256_hex)
                self._put_verified(entry_dir / file_name, key, digest, bar)
            metadata_path = entry_dir / METADATA_FILE
            self._put_verified(
                metadata_path, self.metadata_key(name), _digest_file(metadata_path), bar
            )

    def _put_verified(self, path: Path, key: str, digest: _FileDigest, bar) -> None:
        object_url = self.object_url(key)
        task = bar.add_task(f"upload {path.name}", total=digest.size) if bar else None
        with self._s3_errors(f"uploading {path} to {object_url}"):
            with open(path, "rb") as body:
                self.client.put_object(
                    Bucket=self.location.bucket,
                    Key=key,
                    Body=body,
                    ChecksumSHA256=digest.sha256_base64,
                    Metadata={"sha256": digest.sha256_hex},
                )
            stored = self.client.head_object(
                Bucket=self.location.bucket, Key=key, ChecksumMode="ENABLED"
            )
        self._check_stored(object_url, digest, stored)
        if task is not None:
            bar.update(task, completed=digest.size)

    @staticmethod
    def _check_stored(object_url: str, digest: _FileDigest, stored: dict[str, Any]) -> None:
        """Compare what the store says it holds with the local file; raise if it differs."""
        if stored.get("ContentLength") != digest.size:
            raise S3MirrorError(
                f"upload of {object_url} is damaged: the store holds {stored.get('ContentLength')} "
                f"bytes, the local file has {digest.size}; run the upload again"
            )
        checksum = stored.get("ChecksumSHA256")
        if checksum and "-" not in checksum:
            if checksum != digest.sha256_base64:
                raise S3MirrorError(
                    f"upload of {object_url} is damaged: the store's SHA-256 is {checksum}, the "
                    f"local file's is {digest.sha256_base64}; run the upload again"
                )
            return
        etag = str(stored.get("ETag", "")).strip('"')
        if re.fullmatch(r"[0-9a-f]{32}", etag):
            if etag != digest.md5_hex:
                raise S3MirrorError(
                    f"upload of {object_url} is damaged: the store's MD5 is {etag}, the local "
                    f"file's is {digest.md5_hex}; run the upload again"
                )
            return
        raise S3MirrorError(
            f"cannot verify the upload of {object_url}: the store reports neither a SHA-256 "
            f"checksum nor an MD5 ETag (ETag {etag!r}); use a store that does"
        )


def _write_bytes_durably(path: Path, content: bytes) -> None:
    with open(path, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())


@contextlib.contextmanager
def _progress_bar(enabled: bool):
    """A rich progress bar for transfers, or None when progress is off."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()
    ) as bar:
        yield bar
