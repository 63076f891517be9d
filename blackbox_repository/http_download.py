"""Downloading one file over HTTP(S): ``.part`` file and rename, a total deadline, progress.

A cut download, an HTTP error, an HTML page served instead of the file, or a server too
slow to finish before the deadline is a :class:`DownloadError` naming the URL; no file is
left behind in any of these cases.
"""

from __future__ import annotations

import http.client
import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from blackbox_repository.errors import DownloadError

logger = logging.getLogger(__name__)

RAW_DATA_ENV_VAR = "SIMTUNE_RAW_DATA_DIR"
RAW_MIRROR_ENV_VAR = "SIMTUNE_RAW_MIRROR_URL"
DOWNLOAD_DEADLINE_ENV_VAR = "SIMTUNE_DOWNLOAD_DEADLINE"
DEFAULT_DOWNLOAD_DEADLINE = 4 * 3600.0  # seconds for one whole file
PROGRESS_INTERVAL = 10.0  # seconds between "still downloading" lines when no bar is shown
USER_AGENT = "simtune (raw benchmark download; https://github.com/simtune)"
OFFLINE_HINT = (
    f"If this machine cannot reach the host, put the original files in a folder and point "
    f"${RAW_DATA_ENV_VAR} (or raw_data_dir=) at it, or set ${RAW_MIRROR_ENV_VAR} to a mirror "
    "that serves <mirror>/<path> (docs/raw-downloads.md)"
)


def download_deadline() -> float:
    """Seconds one download may take in total: ``$SIMTUNE_DOWNLOAD_DEADLINE`` or 4 hours."""
    configured = os.environ.get(DOWNLOAD_DEADLINE_ENV_VAR, "").strip()
    if not configured:
        return DEFAULT_DOWNLOAD_DEADLINE
    try:
        deadline = float(configured)
    except ValueError:
        deadline = -1.0
    if not deadline > 0:
        raise DownloadError(
            f"${DOWNLOAD_DEADLINE_ENV_VAR}={configured!r} is not a positive number of seconds"
        )
    return deadline


def download(
    url: str,
    destination: Path,
    *,
    timeout: float = 60.0,
    deadline: float | None = None,
    progress=None,
    progress_interval: float = PROGRESS_INTERVAL,
) -> None:
    """Download ``url`` to ``destination`` through a ``.part`` file and a rename.

    ``timeout`` bounds each wait for data; ``deadline`` (default :func:`download_deadline`)
    bounds the whole download, so a server that drips bytes cannot hold it forever. Without
    a progress bar, a line is logged every ``progress_interval`` seconds of a long download.

    Raises :class:`DownloadError` naming the URL for an HTTP error status, an unreachable
    host, a response shorter than its Content-Length (a cut download), a download past its
    deadline or an HTML page served instead of a data file; no file is left behind in any
    of these cases.
    """
    deadline = download_deadline() if deadline is None else deadline
    started = time.monotonic()
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_name(f".{destination.name}.part-{uuid.uuid4().hex[:8]}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with (
            urllib.request.urlopen(request, timeout=min(timeout, deadline)) as response,
            open(tmp, "wb") as out,
        ):
            _check_not_html(response, url, destination)
            expected = response.headers.get("Content-Length")
            expected = int(expected) if expected is not None else None
            report = _DownloadReport(url, expected, started, deadline, progress, destination)
            report.interval = progress_interval
            # read1: whatever has arrived (up to 1 MB), so the deadline is checked often
            while chunk := response.read1(1 << 20):
                out.write(chunk)
                report.received(len(chunk))
            if expected is not None and report.bytes_received != expected:
                raise DownloadError(
                    f"download of {url} was cut: received {report.bytes_received} of "
                    f"{expected} bytes; nothing was kept, run the same command again to retry"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, destination)
    except urllib.error.HTTPError as error:
        raise DownloadError(
            f"cannot download {url}: the server answered HTTP {error.code} {error.reason}. "
            f"{OFFLINE_HINT}"
        ) from error
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise DownloadError(f"cannot download {url}: {reason}. {OFFLINE_HINT}") from error
    finally:
        tmp.unlink(missing_ok=True)


class _DownloadReport:
    """Counts received bytes, shows progress, and enforces the total deadline."""

    def __init__(self, url, expected, started, deadline, progress, destination) -> None:
        self.url, self.expected, self.started, self.deadline = url, expected, started, deadline
        self.progress = progress
        self.bytes_received = 0
        self.interval = PROGRESS_INTERVAL
        self.next_line = started
        self.task = (
            progress.add_task(f"download {destination.name}", total=expected)
            if progress is not None
            else None
        )

    def received(self, n_bytes: int) -> None:
        self.bytes_received += n_bytes
        now = time.monotonic()
        if self.task is not None:
            self.progress.update(self.task, completed=self.bytes_received)
        elif now >= self.next_line + self.interval:
            self.next_line = now
            of = f" of {self.expected / 1e6:.1f}" if self.expected is not None else ""
            logger.warning(
                "still downloading %s: %.1f%s MB after %.0f s (deadline %.0f s)",
                self.url,
                self.bytes_received / 1e6,
                of,
                now - self.started,
                self.deadline,
            )
        if now - self.started > self.deadline:
            raise DownloadError(
                f"download of {self.url} passed its deadline of {self.deadline:.0f} s after "
                f"{self.bytes_received} bytes (the server is too slow or stalls); nothing was "
                f"kept. Retry later, raise ${DOWNLOAD_DEADLINE_ENV_VAR} (seconds), or put the "
                f"file below ${RAW_DATA_ENV_VAR}"
            )


def _check_not_html(response, url: str, destination: Path) -> None:
    content_type = response.headers.get("Content-Type", "")
    if content_type.startswith("text/html") and destination.suffix.lower() not in (".html", ".htm"):
        raise DownloadError(
            f"cannot download {url}: the server sent an HTML page (Content-Type {content_type}) "
            f"instead of {destination.name}, e.g. a login, consent or virus-scan page. Download "
            f"the file in a browser and put it below ${RAW_DATA_ENV_VAR}"
        )
