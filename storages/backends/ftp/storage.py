"""FTP and FTPS storage (stdlib ``ftplib``): streaming, temporary-name uploads, pooled connections.

``FTP_STORAGE_LOCATION`` is a URL: ``ftp://user:password@host:port/path/`` for
plain FTP, ``aftp://...`` for plain FTP in active mode, ``ftps://...`` for FTP
over TLS (explicit ``AUTH TLS``; set ``FTP_STORAGE_IMPLICIT_TLS`` for TLS from
the first byte, port 990 by default). As in django-storages, ``path`` is relative
to the login directory (``ftp://host//srv/media`` is absolute) and an empty path
is the server's root.
"""

from __future__ import annotations

import contextlib
import ftplib
import posixpath
import ssl
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.deconstruct import deconstructible

from storages.backends.ftp import client as ftp_client
from storages.base import MASK, SettingSpec
from storages.files import SeekableReader
from storages.remote_tree import PoolRecipe, RemoteFile, RemoteTreeStorage
from storages.utils import content_chunks, file_join, is_root

SCHEMES = ("ftp", "aftp", "ftps")

CHUNK_SIZE = 256 * 1024

# Check-then-rename must not interleave between threads of this process (FTP
# has no rename that refuses to replace); one lock per server.
_publish_locks: dict[tuple[str, int], threading.Lock] = {}
_publish_locks_guard = threading.Lock()


def _publish_lock(host: str, port: int) -> threading.Lock:
    with _publish_locks_guard:
        return _publish_locks.setdefault((host, port), threading.Lock())


class FTPStorageError(OSError):
    """An FTP operation failed; the message names the file and server, never a password."""


#: django-storages' name for the same class: ``except FTPStorageException`` and
#: ``except OSError`` both catch every failure of this backend.
FTPStorageException = FTPStorageError


class FTPFileNotFoundError(FTPStorageError, FileNotFoundError):
    """The file is not on the server (a ``FileNotFoundError`` and an ``FTPStorageException``)."""


class FTPStorageFile(RemoteFile):
    """What ``FTPStorage.open()`` returns, under django-storages' name."""


def _is_missing(exc: BaseException) -> bool:
    return isinstance(exc, ftplib.error_perm) and ftp_client.code(exc) in ("550", "553", "450")


def _reply(exc: BaseException) -> str:
    if isinstance(exc, ftplib.Error):
        return str(exc).strip()
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@deconstructible(path="storages.backends.ftp.FTPStorage")
class FTPStorage(RemoteTreeStorage):
    cleanup_errors = (*ftplib.all_errors, ValueError)
    file_class = FTPStorageFile
    transient_attributes = (*RemoteTreeStorage.transient_attributes, "_resolved_root")

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "location": ("FTP_STORAGE_LOCATION", None),
            "encoding": ("FTP_STORAGE_ENCODING", "utf-8"),
            "base_url": ("BASE_URL", None),
            "allow_overwrite": ("FTP_ALLOW_OVERWRITE", False),
            "timeout": ("FTP_STORAGE_TIMEOUT", 30.0),
            "ca_file": ("FTP_STORAGE_CA_FILE", None),
            "implicit_tls": ("FTP_STORAGE_IMPLICIT_TLS", False),
            "passive": ("FTP_STORAGE_PASSIVE", True),
            "max_idle_connections": ("FTP_STORAGE_MAX_IDLE_CONNECTIONS", 4),
        }

    required_options = ("location",)

    # --- configuration ----------------------------------------------------------

    def configure(self) -> None:
        self._endpoint = None
        self._scheme = "ftp"
        self._absolute_root = "/"
        self._relative_root: str | None = None
        self.__dict__.pop("_resolved_root", None)
        if not self.location:
            return  # reported by the system check and on first use
        # The URL may hold a password: errors describe it without quoting it.
        parts = ftp_client.parse_location(str(self.location))
        if parts is None:
            raise ImproperlyConfigured(
                "FTP_STORAGE_LOCATION must look like ftp://user:password@host:port/path "
                "(or aftp://, ftps://); the value given is not such a URL."
            )
        if parts.scheme not in SCHEMES:
            raise ImproperlyConfigured(
                "FTP_STORAGE_LOCATION must be an ftp://, aftp:// or ftps:// URL; "
                f"got a URL with scheme {parts.scheme!r}."
            )
        self._scheme = parts.scheme
        tls = parts.scheme == "ftps" or bool(self.implicit_tls)
        self._endpoint = ftp_client.Endpoint(
            host=parts.host,
            port=parts.port or (990 if self.implicit_tls else 21),
            user=parts.user,
            password=parts.password,
            tls=tls,
            implicit_tls=bool(self.implicit_tls),
            passive=bool(self.passive) and parts.scheme != "aftp",
            timeout=float(self.timeout),
            encoding=self.encoding,
            ca_file=self.ca_file,
        )
        path = parts.path.rstrip("/")
        if path.startswith("/"):
            self._absolute_root = "/" + path.strip("/")
        elif path:
            self._relative_root = path

    @property
    def _root(self) -> str:
        """The files' directory: a relative location starts at the login directory."""
        if self._relative_root is None:
            return self._absolute_root
        root = self.__dict__.get("_resolved_root")
        if root is None:
            home = self._run(lambda ftp: ftp.login_dir, "", "connect to")
            root = posixpath.normpath(posixpath.join(home, self._relative_root))
            self.__dict__["_resolved_root"] = root
        return root

    def _path(self, name: str) -> str:
        if self._relative_root is not None and "_resolved_root" not in self.__dict__:
            file_join("/", name)  # a hostile name is refused before any connection
        return super()._path(name)

    def disconnect(self) -> None:
        """django-storages' name for :meth:`close`: close the idle connections."""
        self.close()

    def _shown_option(self, option: str, value: Any) -> Any:
        if option == "location" and value:
            return self.describe_location()
        return value

    def _shown_path(self) -> str:
        """The location's path as the URL writes it (``//srv`` absolute, ``media`` relative)."""
        if self._relative_root is not None:
            return f"/{self._relative_root}"
        return "/" if self._absolute_root == "/" else f"/{self._absolute_root}"

    def describe_location(self) -> str:
        endpoint = self._endpoint
        if endpoint is None:
            return ""
        user = (
            f"{endpoint.user}:{MASK}@"
            if endpoint.password
            else (f"{endpoint.user}@" if endpoint.user else "")
        )
        return f"{self._scheme}://{user}{endpoint.host}:{endpoint.port}{self._shown_path()}"

    def _describe_store(self) -> str | None:
        if self._endpoint is None:
            return None
        return f"{self._endpoint.describe()}{self._shown_path()}"

    # --- connections ------------------------------------------------------------

    def _pool_recipe(self) -> PoolRecipe:
        endpoint = self._endpoint
        if endpoint is None:
            raise ImproperlyConfigured(
                "FTPStorage needs FTP_STORAGE_LOCATION (an ftp://, aftp:// or ftps:// URL)."
            )
        return PoolRecipe(
            ("ftp", endpoint),
            lambda: ftp_client.connect(endpoint),
            ftp_client.close,
            ftp_client.is_dead,
        )

    def _translate(self, exc: Exception, name: str, action: str) -> BaseException:
        if isinstance(exc, (FileNotFoundError, FTPStorageError)):
            return exc
        if isinstance(exc, ftplib.error_perm):
            if _is_missing(exc) and action in ("read", "size", "modified time of", "list"):
                return FTPFileNotFoundError(f"No such file: {self._where(name)} ({_reply(exc)})")
            return FTPStorageError(f"Could not {action} {self._where(name)}: {_reply(exc)}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            return FTPStorageError(
                f"Could not {action} {self._where(name)}: the server's TLS certificate "
                f"failed verification ({exc.verify_message}); check FTP_STORAGE_CA_FILE."
            )
        if isinstance(exc, (*ftplib.all_errors, ValueError)):
            return FTPStorageError(f"Could not {action} {self._where(name)}: {_reply(exc)}")
        return exc

    # --- reading ------------------------------------------------------------------

    def _open_reader(self, name: str, path: str) -> tuple[RetrStream, int]:
        size = self._run(lambda ftp: int(ftp.size(path)), name, "read")
        return RetrStream(self.pool, path, self._where(name), size), size

    # --- writing ------------------------------------------------------------------

    def _upload(self, ftp: ftplib.FTP, temporary: str, content: Any) -> None:
        try:
            self._stor(ftp, temporary, content)
        except ftplib.error_perm as exc:
            if not _is_missing(exc):
                raise
            self._makedirs(ftp, posixpath.dirname(temporary))
            self._stor(ftp, temporary, content)

    def _stor(self, ftp: ftplib.FTP, path: str, content: Any) -> None:
        conn = ftp.transfercmd(f"STOR {path}")
        try:
            for chunk in content_chunks(content, CHUNK_SIZE):
                conn.sendall(chunk)
            if isinstance(conn, ssl.SSLSocket):
                conn.unwrap()
        finally:
            conn.close()
        ftp.voidresp()

    def _publish(self, name: str, temporary: str, overwrite: bool) -> str:
        def rename(ftp: ftplib.FTP, target: str) -> None:
            ftp.rename(temporary, target)

        if overwrite:

            def replace(ftp: ftplib.FTP) -> None:
                target = self._path(name)
                try:
                    rename(ftp, target)
                except ftplib.error_perm:
                    # Some servers refuse to rename onto an existing file.
                    ftp.delete(target)
                    rename(ftp, target)

            self._run(replace, name, "store")
            return name
        # FTP has no rename that refuses to replace: check and rename under a
        # lock, which closes the window for this process (see the docs for
        # writers in other processes).
        with _publish_lock(self._endpoint.host, self._endpoint.port):
            while self.exists(name):
                name = self.get_available_name(name)
            self._run(lambda ftp: rename(ftp, self._path(name)), name, "store")
        return name

    def _remove_file(self, ftp: ftplib.FTP, path: str) -> None:
        ftp.delete(path)

    def _makedirs(self, ftp: ftplib.FTP, directory: str) -> None:
        if directory in ("", "/"):
            return
        try:
            ftp.mkd(directory)
            return
        except ftplib.error_perm:
            if self._is_dir(ftp, directory):
                return
        self._makedirs(ftp, posixpath.dirname(directory))
        try:
            ftp.mkd(directory)
        except ftplib.error_perm:
            if not self._is_dir(ftp, directory):  # another writer may have made it
                raise

    @staticmethod
    def _is_dir(ftp: ftplib.FTP, path: str) -> bool:
        try:
            ftp.cwd(path)
        except ftplib.error_perm:
            return False
        return True

    # --- the rest of the Storage API ---------------------------------------------

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        path = self._path(name)

        def check(ftp: ftplib.FTP) -> bool:
            try:
                ftp.size(path)
                return True
            except ftplib.error_perm:
                return self._is_dir(ftp, path)

        return self._run(check, name, "check")

    def delete(self, name: str) -> None:
        path = self._path(name)

        def remove(ftp: ftplib.FTP) -> None:
            try:
                ftp.delete(path)
            except ftplib.error_perm:
                if self._is_dir(ftp, path):
                    ftp.rmd(path)
                    return
                try:
                    ftp.size(path)
                except ftplib.error_perm:
                    return  # already gone: deleting a missing file is a no-op
                raise

        self._run(remove, name, "delete")

    def size(self, name: str) -> int:
        path = self._path(name)
        return self._run(lambda ftp: int(ftp.size(path)), name, "size")

    def _list(self, ftp: ftplib.FTP, directory: str) -> list[tuple[str, bool]]:
        return ftp_client.list_directory(ftp, directory)

    def get_modified_time(self, name: str):
        path = self._path(name)
        reply = self._run(lambda ftp: ftp.sendcmd(f"MDTM {path}"), name, "modified time of")
        return self._as_configured(ftp_client.parse_mdtm(reply))


class RetrStream(SeekableReader):
    """A download as a seekable raw stream: ``RETR`` (with ``REST`` after a seek).

    The transfer holds its own pooled connection until it reaches the end (the
    connection is then returned) or is abandoned (the connection is closed, as
    its control channel is mid-transfer).
    """

    def __init__(self, pool, path: str, where: str, size: int) -> None:
        # The pool and the file's description, not the storage: a stream closed by
        # the garbage collector after the settings changed must not need them again.
        self._pool = pool
        self._path = path
        self._where = where
        self._size = size
        self._pos = 0
        self._lease = None
        self._sock = None

    def _moved(self, target: int) -> None:
        self._abandon()

    def readinto(self, buffer) -> int:
        if self._sock is None:
            if self._pos >= self._size:
                return 0
            self._start()
        try:
            count = self._sock.recv_into(buffer)
        except (OSError, ValueError) as exc:
            self._abandon()
            raise FTPStorageError(f"Download of {self._where} failed: {_reply(exc)}") from None
        if count == 0:
            try:
                self._finish()
            except (*ftplib.all_errors, ValueError) as exc:
                raise FTPStorageError(f"Download of {self._where} failed: {_reply(exc)}") from None
            return 0
        self._pos += count
        return count

    def _start(self) -> None:
        pool = self._pool
        command = f"RETR {self._path}"
        while True:
            lease = pool.acquire()
            try:
                sock, _size = lease.connection.ntransfercmd(command, self._pos or None)
            except Exception as exc:
                dead = ftp_client.is_dead(exc)
                (pool.discard if dead else pool.release)(lease)
                if dead and lease.reused:
                    continue
                if _is_missing(exc):
                    raise FTPFileNotFoundError(f"No such file: {self._where}") from None
                raise FTPStorageError(f"Could not read {self._where}: {_reply(exc)}") from None
            self._lease, self._sock = lease, sock
            return

    def _finish(self) -> None:
        sock, lease, self._sock, self._lease = self._sock, self._lease, None, None
        try:
            if isinstance(sock, ssl.SSLSocket):
                with contextlib.suppress(OSError, ValueError):
                    sock.unwrap()
            sock.close()
            lease.connection.voidresp()
        except Exception:
            self._pool.discard(lease)
            raise
        self._pool.release(lease)

    def _abandon(self) -> None:
        sock, lease, self._sock, self._lease = self._sock, self._lease, None, None
        if sock is not None:
            sock.close()
        if lease is not None:
            self._pool.discard(lease)

    def close(self) -> None:
        if not self.closed:
            if self._sock is not None and self._pos >= self._size:
                # Read to the end: confirm the end and keep the connection.
                try:
                    if self._sock.recv(1) == b"":
                        self._finish()
                except (*ftplib.all_errors, ValueError):
                    pass
            self._abandon()
        super().close()
