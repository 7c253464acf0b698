"""Serve the report read-only on 127.0.0.1: GET (and HEAD) only, pages built from the database
at each request, so they are the pages `tracker287g report` writes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger(__name__)


def make_server(build_pages: Callable[[], Mapping[str, str]], port: int = 8287) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (port 0 picks a free one); call serve_forever() on it."""

    class ReportHandler(BaseHTTPRequestHandler):
        def _page(self) -> bytes | None:
            name = self.path.split("?", 1)[0].lstrip("/") or "index.html"
            page = build_pages().get(name)
            return page.encode("utf-8") if page is not None else None

        def _send(self, with_body: bool) -> None:
            body = self._page()
            status = 200 if body is not None else 404
            body = body if body is not None else b"not found\n"
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200 else "text/plain")
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
