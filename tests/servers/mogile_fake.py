"""A MogileFS tracker and storage node that speak the real wire protocols (for tests).

No MogileFS server installs here, so this module is one, small but faithful:

* the tracker is a TCP server reading one request line per command,
  ``command key=val&key=val\\r\\n`` (form-url-encoded, UTF-8), answering
  ``OK key=val&...\\r\\n`` or ``ERR code escaped+text\\r\\n``. Commands:
  ``create_domain``, ``create_class``, ``create_open``, ``create_close``,
  ``get_paths``, ``delete``, ``list_keys``, ``file_info``, ``rename``, with
  MogileFS's error codes (``unreg_domain``, ``unreg_class``, ``unknown_key``,
  ``none_match``, ``key_exists``, ``size_mismatch``, ``no_temp_file``, ...).
  ``create_close`` checks the stored size over HTTP (as MogileFS does), copies
  the file to the other devices, and replaces an existing key. Several ports
  share one state, like several trackers on one database.
* the storage node is an HTTP server like mogstored: ``PUT`` (complete bodies
  only: an interrupted upload leaves no file), ``GET`` with ``Range``, ``HEAD``
  with ``Last-Modified``, ``DELETE``, on paths ``/devN/0/000/000/0000000002.fid``.

Run: ``python -m tests.servers.mogile_fake node --port P --root DIR`` and
``python -m tests.servers.mogile_fake tracker --port P [--port P2] --device 1=HOST:PORT ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socketserver
import tempfile
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

CHUNK = 64 * 1024


# Storage node ---------------------------------------------------------------------------


class NodeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    root: Path

    def log_message(self, *args: object) -> None:
        pass

    def _file(self) -> Path | None:
        path = urlsplit(self.path).path
        parts = [p for p in path.split("/") if p]
        if not parts or not parts[0].startswith("dev") or any(p in ("..", ".") for p in parts):
            return None
        return self.root.joinpath(*parts)

    def _reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self) -> None:
        target = self._file()
        length = self.headers.get("Content-Length")
        if target is None or length is None:
            self._reply(400)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        remaining = int(length)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                while remaining:
                    chunk = self.rfile.read(min(CHUNK, remaining))
                    if not chunk:
                        raise ConnectionError("client went away")
                    out.write(chunk)
                    remaining -= len(chunk)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            self.close_connection = True
            return
        self._reply(201)

    def _stat(self) -> tuple[Path, os.stat_result] | None:
        target = self._file()
        if target is None or not target.is_file():
            self._reply(404)
            return None
        return target, target.stat()

    def do_HEAD(self) -> None:
        found = self._stat()
        if found:
            self.send_response(200)
            self.send_header("Content-Length", str(found[1].st_size))
            self.send_header("Last-Modified", formatdate(found[1].st_mtime, usegmt=True))
            self.end_headers()

    def do_GET(self) -> None:
        found = self._stat()
        if not found:
            return
        target, stat = found
        start, end = 0, stat.st_size - 1
        status = 200
        ranged = self.headers.get("Range", "")
        if ranged.startswith("bytes="):
            first, _, last = ranged[6:].partition("-")
            start = int(first) if first else max(0, stat.st_size - int(last))
            end = min(int(last), end) if first and last else end
            if start >= stat.st_size:
                self._reply(416, {"Content-Range": f"bytes */{stat.st_size}"})
                return
            status = 206
        self.send_response(status)
        self.send_header("Content-Length", str(max(0, end - start + 1)))
        self.send_header("Last-Modified", formatdate(stat.st_mtime, usegmt=True))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{stat.st_size}")
        self.end_headers()
        with target.open("rb") as handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = handle.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)

    def do_DELETE(self) -> None:
        target = self._file()
        if target is None or not target.is_file():
            self._reply(404)
            return
        target.unlink()
        self._reply(204)


def serve_node(port: int, root: Path) -> ThreadingHTTPServer:
    handler = type("Handler", (NodeHandler,), {"root": root})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server


# Tracker -------------------------------------------------------------------------------


class MogileErr(Exception):
    def __init__(self, code: str, text: str) -> None:
        super().__init__(code)
        self.code, self.text = code, text


class TrackerState:
    """What MogileFS keeps in its database, shared by every tracker port."""

    def __init__(self, devices: dict[int, str]) -> None:
        self.devices = devices
        self.lock = threading.Lock()
        self.domains: dict[str, dict] = {}
        self.files: dict[int, dict] = {}
        self.open: dict[int, dict] = {}
        self.next_fid = 1

    # Helpers.
    def domain(self, args: dict[str, str]) -> dict:
        name = args.get("domain", "")
        if not name:
            raise MogileErr("no_domain", "No domain provided")
        if name not in self.domains:
            raise MogileErr("unreg_domain", "Domain name invalid/not found")
        return self.domains[name]

    def key_fid(self, domain: dict, key: str) -> int:
        if not key:
            raise MogileErr("no_key", "No key provided")
        if key not in domain["keys"]:
            raise MogileErr("unknown_key", "unknown_key")
        return domain["keys"][key]

    @staticmethod
    def path(devid: int, host: str, fid: int) -> str:
        padded = f"{fid:010d}"
        return f"http://{host}/dev{devid}/{padded[0]}/{padded[1:4]}/{padded[4:7]}/{padded}.fid"

    def _paths(self, fid: int) -> list[str]:
        return [self.path(d, self.devices[d], fid) for d in self.files[fid]["devids"]]

    # Commands: each takes the decoded arguments and returns the reply's arguments.
    def cmd_create_domain(self, args: dict[str, str]) -> dict:
        name = args.get("domain", "")
        if name in self.domains:
            raise MogileErr("domain_exists", "That domain already exists")
        self.domains[name] = {"classes": {"default"}, "keys": {}}
        return {"domain": name}

    def cmd_create_class(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        domain["classes"].add(args.get("class", ""))
        return {"domain": args["domain"], "class": args.get("class", "")}

    def cmd_create_open(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        cls = args.get("class") or "default"
        if cls not in domain["classes"]:
            raise MogileErr("unreg_class", "Invalid class name")
        fid = self.next_fid
        self.next_fid += 1
        devids = sorted(self.devices)
        self.open[fid] = {"domain": args["domain"], "class": cls, "devids": devids}
        if args.get("multi_dest") in ("1", "true"):
            reply = {"fid": fid, "dev_count": len(devids)}
            for index, devid in enumerate(devids, 1):
                reply[f"devid_{index}"] = devid
                reply[f"path_{index}"] = self.path(devid, self.devices[devid], fid)
            return reply
        devid = devids[0]
        return {"fid": fid, "devid": devid, "path": self.path(devid, self.devices[devid], fid)}

    def cmd_create_close(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        fid = int(args.get("fid") or 0)
        pending = self.open.get(fid)
        if pending is None or pending["domain"] != args["domain"]:
            raise MogileErr("no_temp_file", "No tempfile or invalid device/path")
        key = args.get("key", "")
        if not key:
            raise MogileErr("no_key", "No key provided")
        path, devid = args.get("path", ""), int(args.get("devid") or 0)
        if path != self.path(devid, self.devices.get(devid, ""), fid):
            raise MogileErr("no_temp_file", "No tempfile or invalid device/path")
        size = int(args.get("size") or 0)
        actual = _head_size(path)
        if actual < 0:
            raise MogileErr("size_verify_error", f"Expected: {size}; actual: -1; path: {path}")
        if actual != size:
            raise MogileErr(
                "size_mismatch", f"Expected: {size}; actual: {actual}; path: {path}; error: "
            )
        del self.open[fid]
        # MogileFS replicates in the background; a synchronous copy gives the same paths.
        devids = [devid]
        for other in pending["devids"]:
            if other != devid and _copy(path, self.path(other, self.devices[other], fid)):
                devids.append(other)
        old = domain["keys"].get(key)
        self.files[fid] = {
            "domain": args["domain"], "key": key, "class": pending["class"],
            "length": size, "devids": sorted(devids),
        }  # fmt: skip
        domain["keys"][key] = fid
        if old is not None:  # create_close replaces the key; the old file goes
            self._forget(old)
        return {}

    def _forget(self, fid: int) -> None:
        paths = self._paths(fid)
        del self.files[fid]
        for path in paths:
            _http(path, "DELETE")

    def cmd_get_paths(self, args: dict[str, str]) -> dict:
        fid = self.key_fid(self.domain(args), args.get("key", ""))
        paths = self._paths(fid)
        reply: dict = {"paths": len(paths)}
        for index, path in enumerate(paths, 1):
            reply[f"path{index}"] = path
        return reply

    def cmd_delete(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        fid = self.key_fid(domain, args.get("key", ""))
        del domain["keys"][args["key"]]
        self._forget(fid)
        return {}

    def cmd_file_info(self, args: dict[str, str]) -> dict:
        fid = self.key_fid(self.domain(args), args.get("key", ""))
        info = self.files[fid]
        return {
            "fid": fid, "domain": info["domain"], "key": info["key"], "class": info["class"],
            "devcount": len(info["devids"]), "length": info["length"],
        }  # fmt: skip

    def cmd_rename(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        source, target = args.get("from_key", ""), args.get("to_key", "")
        fid = self.key_fid(domain, source)
        if target in domain["keys"]:
            raise MogileErr("key_exists", "Target key name already exists; can't overwrite.")
        del domain["keys"][source]
        domain["keys"][target] = fid
        self.files[fid]["key"] = target
        return {}

    def cmd_list_keys(self, args: dict[str, str]) -> dict:
        domain = self.domain(args)
        prefix, after = args.get("prefix", ""), args.get("after", "")
        limit = min(int(args.get("limit") or 1000), 1000)
        keys = sorted(k for k in domain["keys"] if k.startswith(prefix) and k > after)[:limit]
        if not keys:
            raise MogileErr("none_match", "No keys match that pattern and after-value (if any).")
        reply: dict = {"key_count": len(keys), "next_after": keys[-1]}
        for index, key in enumerate(keys, 1):
            reply[f"key_{index}"] = key
        return reply

    def handle(self, line: bytes) -> bytes:
        command, _, query = line.decode("utf-8", "replace").strip().partition(" ")
        args = dict(parse_qsl(query, keep_blank_values=True))
        method = getattr(self, f"cmd_{command}", None)
        try:
            if method is None:
                raise MogileErr("unknown_command", f"Unknown server command: {command}")
            with self.lock:
                reply = method(args)
        except MogileErr as err:
            return f"ERR {err.code} {urlencode({'': err.text})[1:]}\r\n".encode()
        return f"OK {urlencode(reply)}\r\n".encode()


def _http(url: str, method: str, body: bytes | None = None) -> http.client.HTTPResponse | None:
    parts = urlsplit(url)
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request(method, parts.path, body=body)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response
    except OSError:
        return None


def _head_size(url: str) -> int:
    response = _http(url, "HEAD")
    if response is None or response.status != 200:
        return -1
    return int(response.headers.get("Content-Length", -1))


def _copy(source: str, target: str) -> bool:
    parts = urlsplit(source)
    try:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        conn.request("GET", parts.path)
        data = conn.getresponse().read()
        conn.close()
    except OSError:
        return False
    response = _http(target, "PUT", data)
    return response is not None and response.status in (200, 201, 204)


class TrackerHandler(socketserver.StreamRequestHandler):
    state: TrackerState

    def handle(self) -> None:
        while True:
            line = self.rfile.readline(64 * 1024)
            if not line:
                return
            if not line.strip():
                continue
            self.wfile.write(self.state.handle(line))


class TrackerServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="role", required=True)
    node = sub.add_parser("node")
    node.add_argument("--port", type=int, required=True)
    node.add_argument("--root", type=Path, required=True)
    tracker = sub.add_parser("tracker")
    tracker.add_argument("--port", type=int, action="append", required=True)
    tracker.add_argument("--device", action="append", default=[], help="DEVID=HOST:PORT")
    args = parser.parse_args(argv)
    if args.role == "node":
        args.root.mkdir(parents=True, exist_ok=True)
        serve_node(args.port, args.root).serve_forever()
        return
    devices = {int(d.split("=")[0]): d.split("=", 1)[1] for d in args.device}
    state = TrackerState(devices)
    handler = type("Handler", (TrackerHandler,), {"state": state})
    servers = [TrackerServer(("127.0.0.1", port), handler) for port in args.port]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
