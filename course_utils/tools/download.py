"""Download files over HTTP(S) safely: fail fast when offline, resume after an
interruption, verify what arrived, and only then put it in place.

A file is streamed to ``<destination>.part``. When a ``.part`` exists, the download
continues from its end with an HTTP ``Range`` request; a server that ignores ``Range``
(answers ``200`` instead of ``206``) makes the download restart from zero, cleanly. The
finished ``.part`` is checked (size, BLAKE2b hash where known, HDF5 signature for NWB
files) and renamed to the destination only if it passes; a file that fails is deleted,
never left in place.

Only the standard library (``urllib``) is used for the transfer, so nothing here depends
on a package the course does not already pin.

>>> item = RemoteFile("https://example.org/a.nwb", Path("cache/a.nwb"), size=1234)  # doctest: +SKIP
>>> download(item)                                                                  # doctest: +SKIP
"""
from __future__ import annotations

import http.client
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .._fs import blake2b_of

#: Seconds to wait for a connection (kept short: offline must fail fast).
CONNECT_TIMEOUT = 5.0
#: Seconds a read may stall before the transfer counts as interrupted.
READ_TIMEOUT = 60.0
CHUNK = 1 << 20
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
OFFLINE_HINT = ("Fetching the real Allen data needs a network connection. The course's "
                "offline sample needs no download: leave COURSE_DATA_SOURCE unset (or "
                "'sample') and run `python -m course_utils build-sample`.")


class DownloadError(ValueError):
    """A transfer could not complete, or what arrived is not what was expected."""


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: where from, where to, and what it must look like."""

    url: str
    dest: Path
    size: int | None = None      #: bytes, when known in advance
    blake2b: str | None = None   #: hexadecimal BLAKE2b digest, when known
    hdf5: bool = False           #: the file must be HDF5 (NWB files are)

    @property
    def part(self) -> Path:
        """The partial file the download streams into."""
        return self.dest.with_name(self.dest.name + ".part")


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def require_reachable(url: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ``ConnectionError`` within ``timeout`` seconds when ``url``'s host (or the
    proxy configured for it) cannot be reached: no DNS, connection refused, time-out."""
    host, port = _host_port(url)
    proxy = urllib.request.getproxies().get(urllib.parse.urlsplit(url).scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        host, port = _host_port(proxy if "://" in proxy else f"http://{proxy}")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        reason = ("name not resolved" if isinstance(err, socket.gaierror)
                  else str(err) or type(err).__name__)
        raise ConnectionError(f"Cannot reach {host}:{port} ({reason}). {OFFLINE_HINT}") from None


def open_url(url: str, headers: dict | None = None, method: str = "GET",
             timeout: float = READ_TIMEOUT):
    """``urllib.request.urlopen`` with errors that say what failed.

    Raises ``DownloadError`` for an HTTP error status and ``ConnectionError`` when the
    server cannot be reached. ``416`` (range not satisfiable) is returned as an
    ``HTTPError`` for the caller to handle.
    """
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416:
            return err
        raise DownloadError(f"{method} {url} failed: HTTP {err.code} {err.reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"Cannot reach {url} ({reason}). {OFFLINE_HINT}") from None


def _total_from_content_range(value: str | None) -> tuple[int | None, int | None]:
    """``(first byte, total size)`` from a ``Content-Range: bytes a-b/total`` header."""
    if not value or not value.startswith("bytes "):
        return None, None
    span, _, total = value[6:].partition("/")
    first = span.split("-")[0]
    return (int(first) if first.isdigit() else None, int(total) if total.isdigit() else None)


def remote_size(url: str) -> int | None:
    """Size in bytes the server reports for ``url`` (``HEAD``; if the server refuses
    ``HEAD``, a one-byte ranged ``GET``), or None when it does not say."""
    try:
        with open_url(url, method="HEAD") as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit():
                return int(length)
    except DownloadError:
        pass
    with open_url(url, headers={"Range": "bytes=0-0"}) as response:
        if response.status == 206:
            return _total_from_content_range(response.headers.get("Content-Range"))[1]
        length = response.headers.get("Content-Length")
        return int(length) if length is not None and length.isdigit() else None


def is_hdf5(path: Path) -> bool:
    """True if the file starts with the HDF5 signature (at 0, 512, 1024, ... bytes)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + len(HDF5_SIGNATURE) <= size:
            f.seek(offset)
            if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset = 512 if offset == 0 else offset * 2
    return False


def verify(path: Path, item: RemoteFile, size: int | None) -> None:
    """Check a finished download; delete it and raise ``DownloadError`` if it is wrong."""
    problem = None
    got = path.stat().st_size
    if size is not None and got != size:
        problem = f"it has {got:,} bytes, the server announced {size:,}"
    elif item.blake2b and blake2b_of(path) != item.blake2b.lower():
        problem = "its BLAKE2b hash differs from the release manifest's"
    elif item.hdf5 and not is_hdf5(path):
        problem = "it is not an HDF5 (NWB) file"
    if problem:
        path.unlink()
        raise DownloadError(f"{item.dest.name} from {item.url} failed verification: {problem}. "
                            "The bad copy was deleted; run the command again to download it "
                            "afresh. If this repeats, the server's copy differs from the "
                            "release (report it to the course maintainers).")


def _start(item: RemoteFile, offset: int):
    """Open the transfer, from ``offset`` if the server honours ``Range``. Returns
    ``(response or None, offset actually used, total size or None)``; a None response
    means the ``.part`` already holds the whole file."""
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    response = open_url(item.url, headers=headers)
    if isinstance(response, urllib.error.HTTPError):          # 416: nothing after offset
        first, total = _total_from_content_range(response.headers.get("Content-Range"))
        response.close()
        if total == offset or (total is None and item.size == offset):
            return None, offset, offset
        item.part.unlink(missing_ok=True)                         # .part is longer: restart
        return _start(item, 0)
    if offset and response.status == 206:
        first, total = _total_from_content_range(response.headers.get("Content-Range"))
        if first == offset:
            return response, offset, total
        response.close()                                          # unexpected range: restart
        return _start(item, 0)
    length = response.headers.get("Content-Length")
    return response, 0, int(length) if length is not None and length.isdigit() else None


def _transfer(item: RemoteFile, bar) -> int | None:
    """One attempt: stream into ``item.part`` (appending when resumed). Returns the total
    size the server announced (or the known size)."""
    offset = item.part.stat().st_size if item.part.exists() else 0
    if item.size is not None and offset > item.size:
        item.part.unlink()
        offset = 0
    response, offset, total = _start(item, offset)
    total = total if total is not None else item.size
    if item.size is not None and total is not None and total != item.size:
        if response is not None:
            response.close()
        raise DownloadError(f"{item.url}: the server offers {total:,} bytes, the release "
                            f"lists {item.size:,}; not downloading a different file")
    bar.reset(total=total)
    bar.update(offset)
    if response is None:
        return total
    with response, open(item.part, "ab" if offset else "wb") as out:
        try:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
        except (OSError, http.client.HTTPException) as err:     # reset, time-out: resume
            bar.write(f"{item.dest.name}: transfer interrupted ({err})")
    return total


def download(item: RemoteFile, progress: bool = True, attempts: int = 3) -> Path:
    """Fetch ``item`` into place: resume a ``.part``, retry an interrupted transfer up to
    ``attempts`` times, verify, then rename. An existing destination is left alone.

    Raises
    ------
    DownloadError
        The transfer kept stopping short, or the file failed verification (then the
        partial file is deleted).
    ConnectionError
        The server cannot be reached.
    """
    from tqdm.auto import tqdm

    if item.dest.exists():
        return item.dest
    item.dest.parent.mkdir(parents=True, exist_ok=True)
    with tqdm(desc=item.dest.name, total=item.size, unit="B", unit_scale=True,
              unit_divisor=1024, disable=not progress, leave=True) as bar:
        for attempt in range(1, attempts + 1):
            total = _transfer(item, bar)
            got = item.part.stat().st_size if item.part.exists() else 0
            if total is None or got >= total:
                break
            if attempt == attempts:
                raise DownloadError(
                    f"{item.dest.name}: the transfer stopped at {got:,} of {total:,} bytes "
                    f"{attempts} times. The partial file {item.part} is kept; run the "
                    "command again to resume from there.")
            bar.write(f"{item.dest.name}: the transfer stopped at {got:,} of {total:,} "
                      "bytes; resuming")
    verify(item.part, item, total)
    os.replace(item.part, item.dest)
    return item.dest
