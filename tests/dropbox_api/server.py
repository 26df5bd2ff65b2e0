"""HTTPS plumbing of the test Dropbox: the API's three route styles, OAuth2, links, control.

* ``POST /2/<route>``: RPC routes take JSON bodies (``Content-Type:
  application/json``); upload routes a ``Dropbox-API-Arg`` header (JSON, ASCII
  only, as Dropbox demands) and an ``application/octet-stream`` body; download
  routes the header and answer with ``Dropbox-API-Result`` and the bytes,
  ``206`` for a ``Range``. Every answer carries ``X-Dropbox-Request-Id``.
* ``POST /oauth2/token``: refresh-token grants (form-encoded).
* ``GET /apitl/1/<token>``: what ``files/get_temporary_link`` hands out.
* ``/_fake/...``: for tests only (not Dropbox's): ``GET tree?prefix=``,
  ``GET stats``, ``POST faults`` (drop the connection after some bytes of a
  route's body), ``POST expire`` (tokens of an app, or one token), ``POST apps``,
  ``POST tokens``.

TLS happens in each connection's thread, so a slow handshake blocks nobody.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import ssl
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from tests.dropbox_api.routes import DOWNLOAD, ROUTES, RPC, UPLOAD, Call, Download, linked
from tests.dropbox_api.state import ApiFailure, BadInput, Store
from tests.dropbox_api.tokens import App, GrantRefused, MissingAuth, Tokens, Unauthorized

COPY_CHUNK = 256 * 1024


class Body:
    """A request body of known length: what a route leaves unread is drained after it."""

    def __init__(self, stream: Any, length: int) -> None:
        self._stream = stream
        self.left = length

    def read(self, size: int) -> bytes:
        data = self._stream.read(min(size, self.left))
        self.left -= len(data)
        return data


class DropboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        sock: socket.socket,
        context: ssl.SSLContext,
        store: Store,
        tokens: Tokens,
        page_size: int,
    ) -> None:
        super().__init__(sock.getsockname(), DropboxHandler, bind_and_activate=False)
        self.socket.close()
        self.socket = sock
        self.server_activate()
        self.context = context
        self.store = store
        self.tokens = tokens
        self.page_size = page_size
        self.routes_seen: Counter = Counter()
        #: route -> [bytes of body to read before dropping the connection, times left]
        self.faults: dict[str, list[int]] = {}
        self.fault_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Headers and body go out in separate writes: without this, Nagle's algorithm
        # and the client's delayed ACK hold each small answer back 40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            request = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that refused our certificate, or went away
        super().finish_request(request, client_address)

    def take_fault(self, route: str) -> int | None:
        with self.fault_lock:
            fault = self.faults.get(route)
            if not fault:
                return None
            fault[1] -= 1
            if fault[1] <= 0:
                del self.faults[route]
            return fault[0]


class DropboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DropboxServer

    def log_message(self, *args: object) -> None:
        pass

    # --- answers -------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Dropbox-Request-Id", secrets.token_hex(16))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def _text(self, status: int, message: str) -> None:
        self._send(status, message.encode(), "text/plain; charset=utf-8")

    def _length(self) -> int:
        return int(self.headers.get("Content-Length") or 0)

    def _drain(self, remaining: int) -> None:
        while remaining > 0:
            chunk = self.rfile.read(min(COPY_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- dispatch --------------------------------------------------------------------

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/oauth2/token":
            return self._token()
        if path.startswith("/_fake/"):
            return self._control(path[len("/_fake/") :])
        if not path.startswith("/2/") or path[3:] not in ROUTES:
            self._drain(self._length())
            return self._text(400, f"Unknown API function: {path[3:]!r}")
        self._route(path[3:])

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/apitl/1/"):
            found = linked(self.server.store, parts.path[len("/apitl/1/") :])
            if found is None:
                return self._text(410, "This link has expired or does not exist.")
            return self._file(found, self.headers.get("Range"))
        if parts.path.startswith("/_fake/"):
            return self._control(parts.path[len("/_fake/") :], dict(parse_qsl(parts.query)))
        self._text(404, "Not found")

    def _route(self, route: str) -> None:
        style, function = ROUTES[route]
        length = self._length() if style != RPC else 0
        try:
            arg = self._argument(style)
            self.server.tokens.check(self.headers.get("Authorization"))
        except (BadInput, MissingAuth, Unauthorized) as refusal:
            self._drain(length)  # an RPC body is read already
            return self._refuse(refusal, route)
        self.server.routes_seen[route] += 1
        cut = self.server.take_fault(route)
        if cut is not None and style != DOWNLOAD:
            self._drain(min(cut, length))
            return self._drop_connection()
        body = Body(self.rfile, length)
        call = Call(
            self.server.store,
            arg,
            body=body if style == UPLOAD else None,
            length=length,
            origin=f"https://{self.headers.get('Host')}",
            page_size=self.server.page_size,
        )
        try:
            try:
                result = function(call)
            finally:
                self._drain(body.left)  # the connection stays usable after a refusal
        except ApiFailure as failure:
            return self._json(failure.status, failure.body())
        except BadInput as refusal:
            return self._refuse(refusal, route)
        except ConnectionError:
            self.close_connection = True
            return
        except Exception as exc:  # a bug here: say so, as Dropbox's 500s do
            self.close_connection = True
            return self._send(
                500, f"internal error: {exc!r}".encode(), "text/plain", {"Connection": "close"}
            )
        if isinstance(result, Download):
            return self._file(result, self.headers.get("Range"), cut=cut)
        self._json(200, result)

    def _argument(self, style: str) -> dict[str, Any]:
        if style == RPC:
            body = self.rfile.read(self._length())
            if not (self.headers.get("Content-Type") or "").startswith("application/json"):
                raise BadInput('Bad HTTP "Content-Type" header: expecting "application/json".')
            raw = body.decode("utf-8") or "null"
        else:
            header = self.headers.get("Dropbox-API-Arg")
            if header is None:
                raise BadInput('Missing HTTP header "Dropbox-API-Arg".')
            if not header.isascii():
                raise BadInput(
                    'HTTP header "Dropbox-API-Arg": could not decode input as JSON '
                    "(non-ASCII characters must be escaped as \\uXXXX)"
                )
            raw = header
        try:
            value = json.loads(raw)
        except ValueError:
            raise BadInput("could not decode input as JSON") from None
        return value if isinstance(value, dict) else {}

    def _refuse(self, refusal: Exception, route: str) -> None:
        if isinstance(refusal, Unauthorized):
            return self._json(401, refusal.body())
        if isinstance(refusal, MissingAuth):
            return self._text(
                400,
                f'Error in call to API function "{route}": Must provide HTTP '
                'header "Authorization" or URL parameter "authorization".',
            )
        self._text(400, f'Error in call to API function "{route}": {refusal}')

    def _file(self, found: Download, ranged: str | None, cut: int | None = None) -> None:
        """Send the file (or its ``Range``); with ``cut``, drop the connection after
        that many bytes of the body, as a network failure would."""
        entry, total = found.entry, found.entry.size
        start, end, status = 0, total - 1, 200
        if ranged:
            unit, _, spec = ranged.partition("=")
            first, _, last = spec.partition("-")
            try:
                if unit.strip() != "bytes" or "," in spec:
                    raise ValueError
                if first:
                    start, end = int(first), min(int(last), total - 1) if last else total - 1
                else:
                    start, end = max(0, total - int(last)), total - 1
            except ValueError:
                return self._text(400, "Invalid Range header")
            if start >= total or start > end:
                self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{total}"})
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(max(0, end - start + 1)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("X-Dropbox-Request-Id", secrets.token_hex(16))
        self.send_header("Dropbox-API-Result", json.dumps(entry.metadata()))
        name = entry.display.rsplit("/", 1)[-1]
        self.send_header(
            "Content-Disposition",
            f'attachment; filename="{name.encode("ascii", "replace").decode()}"; '
            f"filename*=UTF-8''{quote(name)}",
        )
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.end_headers()
        with found.blob.open("rb") as blob:
            blob.seek(start)
            remaining = end - start + 1
            if cut is not None:
                remaining = min(remaining, cut)
            while remaining > 0:
                chunk = blob.read(min(COPY_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
        if cut is not None:
            self._drop_connection()

    # --- OAuth2 and control -----------------------------------------------------------------

    def _token(self) -> None:
        form = dict(parse_qsl(self.rfile.read(self._length()).decode()))
        try:
            self._json(200, self.server.tokens.grant(form))
        except GrantRefused as refused:
            self._json(400, {"error": refused.error, "error_description": refused.description})

    def _control(self, what: str, query: dict[str, str] | None = None) -> None:
        body = self.rfile.read(self._length()) if self.command == "POST" else b""
        data = json.loads(body or b"{}")
        server = self.server
        if what == "tree":
            return self._json(200, server.store.tree((query or {}).get("prefix", "")))
        if what == "stats":
            return self._json(
                200, {"tokens": dict(server.tokens.stats), "routes": dict(server.routes_seen)}
            )
        if what == "faults":
            with server.fault_lock:
                server.faults[data["route"]] = [int(data["after_bytes"]), int(data.get("times", 1))]
            return self._json(200, {})
        if what == "expire":
            count = server.tokens.expire(app=data.get("app", ""), token=data.get("token", ""))
            return self._json(200, {"expired": count})
        if what == "apps":
            server.tokens.apps[data["key"]] = App(
                data["key"], data["secret"], data["refresh_token"], data.get("lifetime")
            )
            return self._json(200, {})
        if what == "tokens":
            server.tokens.add_long_lived(data["token"])
            return self._json(200, {})
        self._text(404, "unknown control route")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="bound with SO_REUSEPORT")
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--root", required=True, help="directory for the files' contents")
    parser.add_argument("--token", action="append", default=[], help="a long-lived token")
    parser.add_argument("--app", action="append", default=[], help="KEY:SECRET:REFRESH_TOKEN")
    parser.add_argument("--token-lifetime", type=int, default=14400)
    parser.add_argument("--page-size", type=int, default=2000)
    args = parser.parse_args(argv)
    # SO_REUSEPORT: the test session holds the port (bound, never listening) for
    # as long as it runs, so no other program takes it between two runs of ours.
    sock = socket.create_server(("127.0.0.1", args.port), reuse_port=True, backlog=64)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    tokens = Tokens(lifetime=args.token_lifetime)
    for token in args.token:
        tokens.add_long_lived(token)
    for app in args.app:
        key, secret, refresh = app.split(":", 2)
        tokens.apps[key] = App(key, secret, refresh)
    root = Path(args.root)
    root.mkdir(parents=True, exist_ok=True)
    server = DropboxServer(sock, context, Store(root), tokens, args.page_size)
    print(f"listening on {sock.getsockname()}", flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
