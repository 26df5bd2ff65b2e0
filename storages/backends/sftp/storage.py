"""SFTP storage (paramiko): verified host keys, pipelined transfers, no-clobber renames.

Uploads go to a temporary name in the target directory and are renamed into
place. Without overwrite the rename is SFTP's own ``SSH_FXP_RENAME``, which
refuses an existing target (OpenSSH implements it with ``link()``), so two
writers of one name never lose a file; with overwrite it is OpenSSH's
``posix-rename@openssh.com``, which replaces atomically.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import getpass
import posixpath
import stat
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.utils.deconstruct import deconstructible

from storages.backends.sftp import client as sftp_client
from storages.backends.sftp.client import HostKeyError, SFTPStorageError, mask_params
from storages.base import SettingSpec
from storages.files import SeekableReader
from storages.remote_tree import PoolRecipe, RemoteFile, RemoteTreeStorage
from storages.utils import content_chunks, is_root

__all__ = ["HostKeyError", "SFTPStorage", "SFTPStorageError", "SFTPStorageFile"]

#: paramiko sends at most 32 KiB per SFTP request; writes are pipelined.
WRITE_CHUNK = 1024 * 1024
#: Bytes of read requests kept in flight ahead of the reader, topped up by BATCH.
READ_AHEAD = 128 * 1024 * 1024
BATCH = 32 * 1024 * 1024
REQUEST_SIZE = 32 * 1024


def _missing(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOENT


class SFTPStorageFile(RemoteFile):
    """What ``SFTPStorage.open()`` returns, under django-storages' name."""


@deconstructible(path="storages.backends.sftp.SFTPStorage")
class SFTPStorage(RemoteTreeStorage):
    transient_attributes = (
        *RemoteTreeStorage.transient_attributes,
        "_prompted_password",
        "_own_connection",
    )
    required_options = ("host",)
    file_class = SFTPStorageFile

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "host": ("SFTP_STORAGE_HOST", None),
            "params": ("SFTP_STORAGE_PARAMS", {}),
            "root_path": ("SFTP_STORAGE_ROOT", ""),
            "base_url": ("SFTP_BASE_URL", None),
            "file_mode": ("SFTP_STORAGE_FILE_MODE", None),
            "dir_mode": ("SFTP_STORAGE_DIR_MODE", None),
            "uid": ("SFTP_STORAGE_UID", None),
            "gid": ("SFTP_STORAGE_GID", None),
            "known_host_file": ("SFTP_KNOWN_HOST_FILE", None),
            "interactive": ("SFTP_STORAGE_INTERACTIVE", False),
            "timeout": ("SFTP_STORAGE_TIMEOUT", 30.0),
            "allow_unknown_host_keys": ("SFTP_ALLOW_UNKNOWN_HOST_KEYS", False),
            "allow_overwrite": ("SFTP_ALLOW_OVERWRITE", False),
            "max_idle_connections": ("SFTP_STORAGE_MAX_IDLE_CONNECTIONS", 4),
        }

    def configure(self) -> None:
        self.params = dict(self.params or {})
        self._target = sftp_client.Target(
            host=self.host or "",
            params=self.params,
            timeout=float(self.timeout),
            known_host_file=self.known_host_file,
            allow_unknown_host_keys=bool(self.allow_unknown_host_keys),
            interactive=bool(self.interactive),
        )
        self._root = str(self.root_path or "")

    def _shown_option(self, option: str, value: Any) -> Any:
        return mask_params(value or {}) if option == "params" else value

    def _describe_store(self) -> str:
        return f"{self._target.describe()}/{self._root.lstrip('/')}"

    # --- connections ------------------------------------------------------------

    def _pool_recipe(self) -> PoolRecipe:
        if not self.host:
            raise ImproperlyConfigured("SFTPStorage needs SFTP_STORAGE_HOST.")
        target = self._target
        prompt = self._prompt
        return PoolRecipe(
            ("sftp", target.fingerprint()),
            lambda: sftp_client.connect(target, prompt),
            sftp_client.close,
            sftp_client.is_dead,
            alive=sftp_client.alive,
        )

    def _prompt(self, target: sftp_client.Target) -> str:
        password = self.__dict__.get("_prompted_password")
        if password is None:
            password = getpass.getpass(f"SSH password for {target.describe()}: ")
            self.__dict__["_prompted_password"] = password
        return password

    def _client(self, connection: sftp_client.Connection) -> Any:
        return connection.sftp

    @property
    def sftp(self) -> Any:
        """A paramiko ``SFTPClient`` of this storage's own, as django-storages offers.

        Opened on first use (and again if the server dropped it), outside the
        pool, and closed by :meth:`close` or on leaving ``with storage:``. Paths
        given to it are the server's: no ``root_path``, no name checks. One thread
        at a time.
        """
        connection = self.__dict__.get("_own_connection")
        if connection is None or not sftp_client.alive(connection):
            if connection is not None:
                sftp_client.close(connection)
            self._pool_recipe()  # raises ImproperlyConfigured without a host
            connection = sftp_client.connect(self._target, self._prompt)
            self.__dict__["_own_connection"] = connection
        return connection.sftp

    def _close_own_connection(self) -> None:
        connection = self.__dict__.pop("_own_connection", None)
        if connection is not None:
            with contextlib.suppress(Exception):
                sftp_client.close(connection)

    def close(self) -> None:
        """Close idle pooled connections and the one behind :attr:`sftp`."""
        try:
            self._close_own_connection()
        finally:
            super().close()

    def _reset_connection(self) -> None:
        # Settings changed: the client behind ``sftp`` was made with the old ones.
        self._close_own_connection()
        super()._reset_connection()

    def _translate(self, exc: Exception, name: str, action: str) -> BaseException:
        if isinstance(exc, HostKeyError):
            return exc  # about the server, whatever the file
        if isinstance(exc, SFTPStorageError):
            if name and self._where(name) not in str(exc):
                # A reconnection failed: say which file's operation it cut short.
                return SFTPStorageError(f"Could not {action} {self._where(name)}: {exc}")
            return exc
        if isinstance(exc, (ImproperlyConfigured, SuspiciousFileOperation)):
            return exc
        if isinstance(exc, FileNotFoundError):
            return FileNotFoundError(f"No such file: {self._where(name)}")
        # OSError, EOFError, ValueError, paramiko.SSHException and relatives.
        return SFTPStorageError(
            f"Could not {action} {self._where(name)}: {type(exc).__name__}: {exc}"
        )

    # --- reading ------------------------------------------------------------------

    def _open_reader(self, name: str, path: str) -> tuple[SFTPReadStream, int]:
        lease = self.pool.acquire()
        try:
            handle = lease.connection.sftp.open(path, "rb")
            size = handle.stat().st_size
        except BaseException as exc:
            if self.pool.is_dead(exc, lease.connection):
                self.pool.discard(lease)
            else:
                self.pool.release(lease)
            if lease.reused and lease.broken:
                return self._open_reader(name, path)  # a dropped idle connection: once more, fresh
            if _missing(exc):
                raise FileNotFoundError(f"No such file: {self._where(name)}") from None
            raise SFTPStorageError(
                f"Could not read {self._where(name)}: {type(exc).__name__}: {exc}"
            ) from None
        where = self._where(name)
        return SFTPReadStream(self.pool, lease, handle, size, where, self._target.timeout), size

    # --- writing ------------------------------------------------------------------

    def _upload(self, sftp: Any, temporary: str, content: Any) -> None:
        try:
            handle = sftp.open(temporary, "wxb")
        except FileNotFoundError:
            self._makedirs(sftp, posixpath.dirname(temporary))
            handle = sftp.open(temporary, "wxb")
        with handle:
            handle.set_pipelined(True)
            for chunk in content_chunks(content, WRITE_CHUNK):
                handle.write(chunk)
        if self.file_mode is not None:
            sftp.chmod(temporary, self.file_mode)
        self._chown(sftp, temporary)

    def _publish(self, name: str, temporary: str, overwrite: bool) -> str:
        if overwrite:

            def replace(sftp) -> None:
                try:
                    sftp.posix_rename(temporary, self._path(name))
                except OSError as exc:
                    if (
                        "extension" not in str(exc).lower()
                        and "unsupported" not in str(exc).lower()
                    ):
                        raise
                    # No posix-rename extension: remove, then a plain rename.
                    with contextlib.suppress(FileNotFoundError):
                        sftp.remove(self._path(name))
                    sftp.rename(temporary, self._path(name))

            self._run(replace, name, "store")
            return name

        def claim(sftp) -> str | None:
            # SSH_FXP_RENAME fails when the target exists: an atomic claim.
            try:
                sftp.rename(temporary, self._path(candidate))
            except OSError as exc:
                if self._exists(sftp, self._path(candidate)):
                    return None
                raise exc from None  # the rename failed for another reason
            return candidate

        candidate = name
        for _attempt in range(100):
            placed = self._run(claim, candidate, "store")
            if placed is not None:
                return placed
            candidate = self.get_available_name(name)
        raise SFTPStorageError(f"Could not find a free name for {self._where(name)}.")

    def _remove_file(self, sftp: Any, path: str) -> None:
        sftp.remove(path)

    def _chown(self, sftp, path: str) -> None:
        if self.uid is None and self.gid is None:
            return
        uid, gid = self.uid, self.gid
        if uid is None or gid is None:
            attributes = sftp.stat(path)
            uid = attributes.st_uid if uid is None else uid
            gid = attributes.st_gid if gid is None else gid
        sftp.chown(path, uid, gid)

    def _makedirs(self, sftp, directory: str) -> None:
        if directory in ("", "/", "."):
            return
        try:
            sftp.stat(directory)
            return
        except FileNotFoundError:
            pass
        self._makedirs(sftp, posixpath.dirname(directory))
        try:
            if self.dir_mode is not None:
                sftp.mkdir(directory, self.dir_mode)
            else:
                sftp.mkdir(directory)
        except OSError:
            if not self._is_dir(sftp, directory):  # another writer may have made it
                raise
            return
        self._chown(sftp, directory)

    @staticmethod
    def _exists(sftp, path: str) -> bool:
        try:
            sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _is_dir(sftp, path: str) -> bool:
        try:
            return stat.S_ISDIR(sftp.stat(path).st_mode)
        except FileNotFoundError:
            return False

    # --- the rest of the Storage API ---------------------------------------------

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        path = self._path(name)

        return self._run(lambda sftp: self._exists(sftp, path), name, "check")

    def delete(self, name: str) -> None:
        path = self._path(name)

        def remove(sftp) -> None:
            try:
                attributes = sftp.stat(path)
            except FileNotFoundError:
                return  # deleting a missing file is a no-op
            try:
                if stat.S_ISDIR(attributes.st_mode):
                    sftp.rmdir(path)
                else:
                    sftp.remove(path)
            except FileNotFoundError:
                return

        self._run(remove, name, "delete")

    def _stat(self, name: str):
        path = self._path(name)
        return self._run(lambda sftp: sftp.stat(path), name, "stat")

    def size(self, name: str) -> int:
        return self._stat(name).st_size

    def _list(self, sftp: Any, directory: str) -> list[tuple[str, bool]]:
        return [
            (entry.filename, stat.S_ISDIR(entry.st_mode or 0))
            for entry in sftp.listdir_attr(directory or ".")
        ]

    def _time(self, timestamp: float) -> datetime.datetime:
        return self._as_configured(datetime.datetime.fromtimestamp(timestamp, datetime.UTC))

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._time(self._stat(name).st_mtime)

    def get_accessed_time(self, name: str) -> datetime.datetime:
        return self._time(self._stat(name).st_atime)


class SFTPReadStream(SeekableReader):
    """A remote file read with a deep, bounded read-ahead.

    paramiko reads fast only with many 32 KiB read requests in flight, as its
    ``prefetch()`` does; but that asks for the whole rest of the file at once
    (its bookkeeping grows with the file, and a file closed early leaves every
    answer to whoever uses the connection next), and ``readv()`` drains the
    pipe at the end of each call. Here up to :data:`READ_AHEAD` bytes are
    requested ahead of the reader, topped up :data:`BATCH` bytes at a time by a
    helper thread (sending requests costs CPU the reader should not wait for),
    through the same machinery as paramiko's own ``readv()``. Answers are taken
    in order as the file is read and the SSH window holds back the rest, so
    memory stays small whatever the file size.
    """

    def __init__(self, pool, lease, handle, size: int, where: str, timeout: float | None) -> None:
        # The pool, the file's description and the timeout are kept, not the storage:
        # a stream closed by the garbage collector after the settings changed must
        # not need them again (the storage may no longer be able to make them).
        self._pool = pool
        self._lease = lease
        self._handle = handle
        self._size = size
        self._where = where
        self._timeout = timeout
        self._pos = 0
        self._requested = 0  # read requests are sent (or being sent) up to here
        self._sender: threading.Thread | None = None

    def _moved(self, target: int) -> None:
        self._wait_for_sender()
        self._requested = target  # read ahead from the new place

    def _wait_for_sender(self) -> None:
        if self._sender is not None:
            self._sender.join(timeout=self._timeout)

    def _request_ahead(self) -> None:
        if self._requested >= self._size or self._requested - self._pos > READ_AHEAD - BATCH:
            return
        if self._sender is not None and self._sender.is_alive():
            return  # the previous batch is still going out
        end = min(self._size, self._pos + READ_AHEAD)
        if self._requested == self._pos:  # start (or after a seek): fill the pipe
            end = min(end, self._pos + max(BATCH, READ_AHEAD))
        blocks = [
            (offset, min(REQUEST_SIZE, end - offset))
            for offset in range(self._requested, end, REQUEST_SIZE)
        ]
        handle = self._handle

        def send() -> None:
            with contextlib.suppress(Exception):  # the reader sees a broken connection
                handle._prefetch_thread(blocks, None)

        self._requested = end
        if len(blocks) <= 8:
            send()  # a small file: not worth a thread
            return
        self._sender = threading.Thread(target=send, name="storages-sftp-read-ahead", daemon=True)
        self._sender.start()

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        handle = self._handle
        try:
            self._request_ahead()
            if self._requested > self._pos:
                # A request for this offset is out or on its way: wait for it
                # rather than fall back to one slow request at a time (paramiko
                # gives up when it sees no request pending at this instant).
                handle._prefetching = True
                handle._prefetch_done = False
            if handle.tell() != self._pos:
                handle.seek(self._pos)
            view = memoryview(buffer)
            wanted = min(len(view), self._size - self._pos)
            count = 0
            while count < wanted:
                # 32 KiB at a time: paramiko joins larger reads quadratically.
                data = handle.read(min(wanted - count, REQUEST_SIZE))
                if not data:
                    break
                view[count : count + len(data)] = data
                count += len(data)
        except Exception as exc:
            if self._pool.is_dead(exc, self._lease.connection):
                self._lease.broken = True
            raise SFTPStorageError(
                f"Download of {self._where} failed: {type(exc).__name__}: {exc}"
            ) from None
        if not count:
            raise SFTPStorageError(f"Download of {self._where} ended early (file shrank?).")
        self._pos += count
        return count

    def close(self) -> None:
        if not self.closed:
            lease, self._lease = self._lease, None
            if lease is not None:
                self._wait_for_sender()
                # Answers to read-ahead requests still on their way would be
                # read (and kept) by the connection's next user: drop it instead.
                if self._handle._prefetch_extents or (self._sender and self._sender.is_alive()):
                    lease.broken = True
                try:
                    self._handle.close()
                except Exception:
                    lease.broken = True
                self._pool.release(lease)
        super().close()
