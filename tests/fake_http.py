"""A local stand-in for the Allen servers: ``http.server`` in a thread on 127.0.0.1.

It serves registered files (bytes or paths on disk), honours ``Range`` requests, and can
be told to ignore ``Range``, refuse ``HEAD``, or cut one transfer short. It also answers
the two queries ``fetch`` makes: the S3 bucket listing (``?list-type=2&prefix=...``) and
the warehouse's RMA query (``/api/v2/data/query.json``). Every request is logged.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                   "ALL_PROXY")


def without_proxies(monkeypatch) -> None:
    """Talk to 127.0.0.1 directly even where the machine sets a proxy."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class FakeServer:
    """Start with ``with FakeServer() as server:``; ``server.url`` is its base URL."""

    def __init__(self):
        self.files: dict[str, bytes | Path] = {}
        self.rma: dict[str, list[dict]] = {}     # criteria substring -> rows
        self.ignore_range = False
        self.allow_head = True
        self.cut: dict[str, int] = {}            # path -> bytes to send before hanging up (once)
        self.log: list[dict] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def add(self, path: str, data: bytes | Path) -> None:
        self.files[path] = data

    def gets(self, path: str) -> list[dict]:
        """Logged GET requests of ``path``."""
        return [r for r in self.log if r["method"] == "GET" and r["path"] == path]

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _serve(self, head: bool):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                entry = {"method": "HEAD" if head else "GET", "path": parts.path,
                         "query": query, "range": self.headers.get("Range"), "sent": 0}
                server.log.append(entry)
                if head and not server.allow_head:
                    return self._reply(405, b"", head)
                if parts.path == "/" and "list-type" in query:
                    return self._reply(200, self._listing(query["prefix"][0]), head,
                                       "application/xml")
                if parts.path == "/api/v2/data/query.json":
                    return self._reply(200, self._rma(query["criteria"][0]), head,
                                       "application/json")
                if parts.path not in server.files:
                    return self._reply(404, b"not found", head)
                self._file(parts.path, head, entry)

            def _listing(self, prefix: str) -> bytes:
                items = "".join(
                    f"<Contents><Key>{escape(p.lstrip('/'))}</Key>"
                    f"<Size>{_size(d)}</Size></Contents>"
                    for p, d in sorted(server.files.items()) if p.lstrip("/").startswith(prefix))
                return (f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}">'
                        f"<Prefix>{escape(prefix)}</Prefix><IsTruncated>false</IsTruncated>"
                        f"{items}</ListBucketResult>").encode()

            def _rma(self, criteria: str) -> bytes:
                rows = [row for key, rows in server.rma.items() if key in criteria for row in rows]
                return json.dumps({"success": True, "start_row": 0, "num_rows": len(rows),
                                   "total_rows": len(rows), "msg": rows}).encode()

            def _reply(self, status: int, body: bytes, head: bool, kind="text/plain"):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _file(self, path: str, head: bool, entry: dict):
                data = server.files[path]
                total = _size(data)
                start, stop = 0, total
                wanted = self.headers.get("Range")
                if wanted and not server.ignore_range and not head:
                    first, _, last = wanted.removeprefix("bytes=").partition("-")
                    start, stop = int(first), min(int(last) + 1 if last else total, total)
                    if start >= total:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{total}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{total}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(stop - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if head:
                    return
                limit = server.cut.pop(path, None)
                end = stop if limit is None else min(stop, start + limit)
                try:
                    for block in _blocks(data, start, end):
                        entry["sent"] += len(block)      # counted before the client can see it
                        self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):   # the client hung up
                    self.close_connection = True
                    return
                if limit is not None:
                    self.wfile.flush()
                    self.close_connection = True

        return Handler


def _size(data: bytes | Path) -> int:
    return len(data) if isinstance(data, bytes) else data.stat().st_size


def _blocks(data: bytes | Path, start: int, end: int, chunk: int = 1 << 20):
    if isinstance(data, bytes):
        for i in range(start, end, chunk):
            yield data[i:min(i + chunk, end)]
        return
    with open(data, "rb") as f:
        f.seek(start)
        while start < end:
            block = f.read(min(chunk, end - start))
            if not block:
                return
            start += len(block)
            yield block
