"""A real HTTP server on 127.0.0.1: scripted routes, conditional GETs, a request log.

The demo's stand-in for www.ice.gov (scheduler.demo), and the server the tests point spiders,
the service and notifications at (tests/conftest.py's ``loopback`` fixture).

Usage::

    with LoopbackServer() as server:
        server.route("/page", Reply.html("<a href='/x.xlsx'>x</a>"))
        server.route("/x.xlsx", Reply.file(path, etag='"v1"', content_disposition="x.xlsx"))
        server.route("/robots.txt", Reply.robots("User-agent: *\\nDisallow: /private/"))
        server.route("/broken", Reply(status=500))
        server.route("/slow", Reply.html("late", delay=5))       # for client timeouts
        server.route("/flaky", replies(Reply(status=503), Reply.html("ok")))  # scripted
        fetch(server.url("/page"))
        assert server.requests_to("/x.xlsx")[0].header("User-Agent").startswith("tracker287g/")

* Routes match the path only (the query string is ignored) and can be changed at any time,
  also while a crawl runs: ``server.routes`` is a plain dict.  Unknown paths get 404.
* A route is a ``Reply`` or a callable ``(RecordedRequest) -> Reply`` for scripted behaviour.
* A ``Reply`` with ``etag`` and/or ``last_modified`` answers a matching ``If-None-Match`` /
  ``If-Modified-Since`` with 304 and no body (If-None-Match wins when both are sent, RFC 9110).
* Every request is recorded, in arrival order, with its headers, in ``server.requests``.
* A delayed reply waits in small steps and gives up when the server stops, so a test that
  made a client time out does not hold up teardown.

Threads: one per connection (``ThreadingHTTPServer``), HTTP/1.0 (one request per connection).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, urlsplit

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it.  ``headers`` keys are lower-case."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    received_at: float  # time.monotonic()

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reply:
    """What the server answers on one route.

    ``last_modified`` is an HTTP-date text or an aware datetime.  ``delay`` is seconds to wait
    before sending anything (use it to make a client time out).  ``cut_after`` sends only that
    many bytes of the body and closes the connection, as a publisher whose download breaks off;
    with ``send_length=False`` no Content-Length tells the client the body was cut short.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | dt.datetime | None = None
    delay: float = 0.0
    cut_after: int | None = None
    send_length: bool = True

    @classmethod
    def html(cls, text: str, *, status: int = 200, **kwargs) -> Reply:
        headers = {"Content-Type": "text/html; charset=utf-8", **kwargs.pop("headers", {})}
        return cls(status=status, body=text.encode("utf-8"), headers=headers, **kwargs)

    @classmethod
    def robots(cls, text: str) -> Reply:
        return cls(body=text.encode("utf-8"), headers={"Content-Type": "text/plain"})

    @classmethod
    def file(
        cls,
        path: Path | str,
        *,
        content_type: str = XLSX_TYPE,
        etag: str | bool | None = True,
        last_modified: str | dt.datetime | None = None,
        content_disposition: str | None = None,
        **kwargs,
    ) -> Reply:
        """Serve a file's bytes.  ``etag=True`` derives a strong ETag from the content;
        ``content_disposition`` is a file name (sent as ``attachment; filename=...`` with an
        RFC 5987 ``filename*`` as well) or a full header value when it contains ``;``."""
        body = Path(path).read_bytes()
        if etag is True:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
        if content_disposition is not None:
            headers["Content-Disposition"] = (
                content_disposition
                if ";" in content_disposition
                else f"attachment; filename=\"{content_disposition}\"; "
                f"filename*=UTF-8''{quote(content_disposition)}"
            )
        return cls(body=body, headers=headers, etag=etag or None, last_modified=last_modified, **kwargs)


Route = Reply | Callable[[RecordedRequest], Reply]


def replies(*script: Reply) -> Callable[[RecordedRequest], Reply]:
    """A route that answers with each reply in turn, then repeats the last one."""
    if not script:
        raise ValueError("replies() needs at least one Reply")
    lock = threading.Lock()
    remaining = list(script)

    def next_reply(_request: RecordedRequest) -> Reply:
        with lock:
            return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return next_reply


class LoopbackServer:
    """Context manager running a threaded HTTP server on 127.0.0.1 at a free port."""

    def __init__(self, routes: Mapping[str, Route] | None = None):
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler, owner=self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- configuration and inspection -----------------------------------------------------

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, reply: Route) -> None:
        self.routes[path] = reply

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- used by the handler --------------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _reply_for(self, request: RecordedRequest) -> Reply:
        route = self.routes.get(request.path)
        if route is None:
            return Reply.html("<h1>Page not found</h1>", status=404)
        reply = route(request) if callable(route) else route
        return _conditional(reply, request)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False when the server is stopping."""
        return not self._stopping.wait(seconds)


def _conditional(reply: Reply, request: RecordedRequest) -> Reply:
    if reply.status != 200:
        return reply
    if_none_match = request.header("If-None-Match")
    if if_none_match is not None and reply.etag is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        if "*" in tags or reply.etag.removeprefix("W/") in tags:
            return replace(reply, status=304, body=b"")
        return reply
    if_modified_since = request.header("If-Modified-Since")
    if if_modified_since is not None and reply.last_modified is not None:
        since = _parse_http_date(if_modified_since)
        modified = _parse_http_date(_http_date(reply.last_modified))
        if since is not None and modified is not None and modified <= since:
            return replace(reply, status=304, body=b"")
    return reply


def _http_date(value: str | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)
    return value


def _parse_http_date(text: str) -> dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, *, owner: LoopbackServer):
        self.owner = owner
        super().__init__(address, handler)

    def handle_error(self, request, client_address) -> None:
        # A client that hung up (timeout tests) is expected, not an error worth a traceback.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a client that connects and says nothing must not pin a thread forever

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parts.query,
            headers={name.lower(): value for name, value in self.headers.items()},
            received_at=time.monotonic(),
        )
        owner._record(request)
        reply = owner._reply_for(request)
        if reply.delay and not owner._wait(reply.delay):
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.etag is not None:
                self.send_header("ETag", reply.etag)
            if reply.last_modified is not None:
                self.send_header("Last-Modified", _http_date(reply.last_modified))
            if reply.status != 304 and reply.send_length:  # a 304 has no body, and no length to announce
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if send_body and reply.status != 304:
                self.wfile.write(reply.body if reply.cut_after is None else reply.body[: reply.cut_after])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first

    def log_message(self, format: str, *args) -> None:
        pass  # the request log is self.server.owner.requests

