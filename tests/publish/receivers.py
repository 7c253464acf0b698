"""Loopback receivers for notifications: an HTTP server that records each POST (path, headers,
body) and answers as scripted, and an SMTP server (aiosmtpd) with a login."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


# (number of requests so far) -> (status, extra headers)
Answer = Callable[[int], tuple[int, dict[str, str]]]


class HttpReceiver:
    """POSTs to 127.0.0.1, recorded; ``answer`` scripts the status; ``delay`` holds each answer."""

    def __init__(self, answer: Answer = lambda n: (200, {}), delay: float = 0.0) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                    self.rfile.read(length))
                with lock:
                    status, headers = answer(len(receiver.requests))
                    receiver.requests.append(received)
                    receiver.statuses.append(status)
                time.sleep(delay)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST  # noqa: N815  (a followed redirect would arrive as a GET)

            def log_message(self, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  (aiosmtpd's naming)
        self.messages.append(envelope)
        return "250 OK"


def smtp_server(login: str, password: str) -> tuple[Controller, Mailbox, int]:
    """A started aiosmtpd server on 127.0.0.1 that requires ``login`` / ``password``."""
    mailbox = Mailbox()

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: Any, auth_data: Any) -> AuthResult:
        # handled=False: aiosmtpd answers a failed login itself (535); handled=True would leave
        # the client waiting for an answer until its socket timeout (15 s)
        return AuthResult(success=auth_data.login == login.encode() and auth_data.password == password.encode(),
                          handled=False)

    with socket.socket() as probe:   # aiosmtpd's start() connects to its own port: it cannot be 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    return controller, mailbox, port
