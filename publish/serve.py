"""Serve the report read-only on 127.0.0.1: GET (and HEAD) only, the files that `tracker287g
report` would write now (pages and downloads), rebuilt when the history changes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


def make_server(build_files: Callable[[], Mapping[str, bytes]], port: int = 8287) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (port 0 picks a free one); call serve_forever() on it.
    A path is looked up among the built files by name, never on the file system."""

    class ReportHandler(BaseHTTPRequestHandler):
        def _file(self) -> tuple[bytes, str] | None:
            name = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/") or "index.html"
            files = build_files()
            if name.endswith("/"):
                name += "index.html"
            body = files.get(name)
            if body is None:
                return None
            return body, CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")

        def _send(self, with_body: bool) -> None:
            found = self._file()
            status = 200 if found is not None else 404
            body, content_type = found if found is not None else (b"not found\n", "text/plain")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(True)

        def do_HEAD(self) -> None:
            self._send(False)

        def log_message(self, format: str, *args: object) -> None:
            log.info("%s %s", self.address_string(), format % args)

    # other methods get http.server's 501 (no do_POST etc.)
    return ThreadingHTTPServer(("127.0.0.1", port), ReportHandler)
