"""A MogileFS tracker client (pymogile is Python 2 only), and HTTP to the storage nodes.

Tracker protocol: one line per request, ``command key=val&key=val\\r\\n``, form-url-encoded
UTF-8; one line per reply, ``OK key=val&...\\r\\n`` or ``ERR code escaped+text\\r\\n``.
Each tracker is tried in turn; one that cannot be reached is skipped for a few
seconds. Storage nodes speak plain HTTP (PUT, GET with Range, HEAD, DELETE) on the
paths the tracker hands out, and each path is tried in turn.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from typing import IO
from urllib.parse import parse_qsl, urlencode, urlsplit

MAX_LINE = 1024 * 1024
CHUNK = 256 * 1024


class MogileFSError(OSError):
    """The tracker answered ``ERR``; ``code`` is MogileFS's error code."""

    def __init__(self, code: str, text: str, command: str = "") -> None:
        self.code, self.text, self.command = code, text, command
        super().__init__(f"MogileFS {command}: {code} ({text})" if command else f"{code} ({text})")


class UnknownKey(MogileFSError, FileNotFoundError):
    """``ERR unknown_key``: no file has that key in the domain."""


class KeyExists(MogileFSError, FileExistsError):
    """``ERR key_exists``: ``rename`` refused to replace a key."""


class TrackersUnavailable(MogileFSError, ConnectionError):
    """No tracker could be reached or none answered."""


_ERRORS: dict[str, type[MogileFSError]] = {"unknown_key": UnknownKey, "key_exists": KeyExists}


def encode_request(command: str, args: dict[str, object]) -> bytes:
    return f"{command} {urlencode({k: str(v) for k, v in args.items()})}\r\n".encode()


def decode_reply(line: bytes, command: str = "") -> dict[str, str]:
    """The arguments of an ``OK`` line; raise the matching error for an ``ERR`` line."""
    text = line.decode("utf-8").rstrip("\r\n")
    status, _, rest = text.partition(" ")
    if status == "OK":
        return dict(parse_qsl(rest, keep_blank_values=True))
    if status == "ERR":
        code, _, message = rest.partition(" ")
        message = dict(parse_qsl(f"m={message}", keep_blank_values=True)).get("m", "")
        raise _ERRORS.get(code, MogileFSError)(code, message, command)
    raise MogileFSError("bad_reply", f"unexpected tracker reply {text[:80]!r}", command)


class _Tracker:
    """One tracker address with a small pool of idle sockets."""

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self.host, self.port = host or "127.0.0.1", int(port or 7001)
        self.timeout = timeout
        self.dead_until = 0.0
        self._idle: list[tuple[socket.socket, IO[bytes]]] = []
        self._lock = threading.Lock()

    def call(self, request: bytes) -> bytes:
        with self._lock:
            pooled = self._idle.pop() if self._idle else None
        sock, reader = pooled or self._connect()
        try:
            sock.sendall(request)
            line = reader.readline(MAX_LINE)
            if not line.endswith(b"\n"):
                raise ConnectionError(f"tracker {self.address} hung up")
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self._idle.append((sock, reader))
        return line

    def _connect(self) -> tuple[socket.socket, IO[bytes]]:
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        return sock, sock.makefile("rb")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock, _reader in idle:
            sock.close()


class TrackerClient:
    """Commands of one MogileFS domain, over every tracker given, with failover."""

    def __init__(
        self, domain: str, trackers: list[str], *, timeout: float = 10.0, dead_retry: float = 5.0
    ) -> None:
        if not trackers:
            raise ValueError("at least one MogileFS tracker is needed")
        self.domain = domain
        self.timeout = timeout
        self.dead_retry = dead_retry
        self._trackers = [_Tracker(address, timeout) for address in trackers]

    def call(self, command: str, **args: object) -> dict[str, str]:
        request = encode_request(command, {"domain": self.domain, **args})
        now = time.monotonic()
        # Live trackers first, in the order given; the resting ones as a last resort.
        order = sorted(self._trackers, key=lambda t: t.dead_until > now)
        failures = []
        for tracker in order:
            try:
                line = tracker.call(request)
            except OSError as exc:
                tracker.dead_until = time.monotonic() + self.dead_retry
                failures.append(f"{tracker.address}: {type(exc).__name__}")
                continue
            tracker.dead_until = 0.0
            return decode_reply(line, command)
        raise TrackersUnavailable("no_trackers", "; ".join(failures), command)

    def close(self) -> None:
        for tracker in self._trackers:
            tracker.close()

    # The commands a storage needs.
    def create_open(self, key: str, mogile_class: str | None = None) -> tuple[str, list]:
        args: dict[str, object] = {"key": key, "fid": 0, "multi_dest": 1}
        if mogile_class:
            args["class"] = mogile_class
        reply = self.call("create_open", **args)
        if "dev_count" in reply:
            dests = [
                (reply[f"devid_{i}"], reply[f"path_{i}"])
                for i in range(1, int(reply["dev_count"]) + 1)
            ]
        else:
            dests = [(reply["devid"], reply["path"])]
        return reply["fid"], dests

    def create_close(self, key: str, fid: str, devid: str, path: str, size: int) -> None:
        self.call("create_close", key=key, fid=fid, devid=devid, path=path, size=size)

    def get_paths(self, key: str) -> list[str]:
        reply = self.call("get_paths", key=key, noverify=1)
        return [reply[f"path{i}"] for i in range(1, int(reply.get("paths", 0)) + 1)]

    def delete(self, key: str) -> None:
        self.call("delete", key=key)

    def rename(self, from_key: str, to_key: str) -> None:
        self.call("rename", from_key=from_key, to_key=to_key)

    def file_info(self, key: str) -> dict[str, str]:
        return self.call("file_info", key=key, devices=0)

    def list_keys(self, prefix: str = "", limit: int = 1000) -> Iterator[str]:
        """Every key starting with ``prefix``, page by page."""
        after = ""
        while True:
            try:
                reply = self.call("list_keys", prefix=prefix, after=after, limit=limit)
            except MogileFSError as exc:
                if exc.code == "none_match":
                    return
                raise
            count = int(reply.get("key_count", 0))
            for index in range(1, count + 1):
                yield reply[f"key_{index}"]
            if count < limit or not reply.get("next_after"):
                return
            after = reply["next_after"]


# Storage nodes ----------------------------------------------------------------------------


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return cls(parts.hostname, parts.port, timeout=timeout), path


def http_put(url: str, stream: IO[bytes], size: int, timeout: float) -> None:
    """PUT ``size`` bytes of ``stream`` (from its current position) to a storage node."""
    conn, path = _connection(url, timeout)
    try:
        conn.putrequest("PUT", path)
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        remaining = size
        while remaining:
            chunk = stream.read(min(CHUNK, remaining))
            if not chunk:
                raise OSError(f"the content ended {remaining} bytes early")
            conn.send(chunk)
            remaining -= len(chunk)
        response = conn.getresponse()
        response.read()
        if response.status not in (200, 201, 204):
            raise OSError(f"HTTP {response.status} {response.reason}")
    finally:
        conn.close()


def http_get(url: str, start: int, timeout: float) -> Iterator[bytes]:
    """Stream an object from ``start`` to its end."""
    conn, path = _connection(url, timeout)
    try:
        conn.request("GET", path, headers={"Range": f"bytes={start}-"} if start else {})
        response = conn.getresponse()
        if response.status == 404:
            raise FileNotFoundError(url)
        if response.status not in (200, 206) or (start and response.status != 206):
            raise OSError(f"HTTP {response.status} {response.reason}")
    except BaseException:
        conn.close()
        raise
    return _body(conn, response)


def _body(conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> Iterator[bytes]:
    try:
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                return
            yield chunk
    finally:
        conn.close()


def http_head(url: str, timeout: float) -> dict[str, str]:
    conn, path = _connection(url, timeout)
    try:
        conn.request("HEAD", path)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise OSError(f"HTTP {response.status} {response.reason}")
        return {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()
