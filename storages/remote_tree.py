"""A file tree on one server reached through pooled connections: what FTP and SFTP share.

:class:`RemoteTreeStorage` holds the parts that do not depend on the protocol:
the lazily built shared pool, names joined under a root, uploads to a
temporary name that is then published (and removed if anything fails), the
listing of a store nothing was saved to yet and ``url()``. A backend fills in
the hooks: how to reach the server (:meth:`_pool_recipe`), what an operation
is handed (:meth:`_client`), how errors read (:meth:`_translate`), and how a
file is read, uploaded, published, removed and listed.
"""

from __future__ import annotations

import datetime
import io
import logging
import posixpath
import re
import uuid
from collections.abc import Callable, Hashable
from typing import Any, ClassVar, NamedTuple, TypeVar

from django.core.files.base import File
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.base import BaseStorage
from storages.files import ReadFile, SpooledWriteFile, is_write_mode
from storages.pool import ConnectionPool, shared_pool
from storages.utils import clean_name, file_join, safe_join, setting, url_under

logger = logging.getLogger("storages")

T = TypeVar("T")

#: Uploads in progress; listings hide them.
TEMP_NAME = re.compile(r"^\.storages-[0-9a-f]{16}\.part$")


def temporary_name() -> str:
    return f".storages-{uuid.uuid4().hex[:16]}.part"


class PoolRecipe(NamedTuple):
    """How a backend's connections are made; ``key`` says which storages may share them."""

    key: tuple[Hashable, ...]
    connect: Callable[[], Any]
    close: Callable[[Any], None]
    is_dead: Callable[[BaseException], bool]
    alive: Callable[[Any], bool] | None = None


class RemoteFile(File):
    """A file of a :class:`RemoteTreeStorage`, made as django-storages makes its
    ``FTPStorageFile`` and ``SFTPStorageFile``: ``(name, storage, mode)``.

    Reading streams and writing spools (the storage's ``_open_stream`` gives the
    file that does the work; this one passes every call on to it), so code that
    builds these classes itself, or checks ``isinstance`` against them, keeps working.
    """

    def __init__(self, name: str, storage: RemoteTreeStorage, mode: str = "rb") -> None:
        self._storage = storage
        super().__init__(storage._open_stream(name, mode), name)
        self.mode = mode

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> RemoteFile:
        """Rewind an open file, or reopen a closed one for reading."""
        self.file.open(mode, *args, **kwargs)
        self.mode = self.file.mode
        return self

    def abort(self) -> None:
        """Close a file opened for writing without storing anything."""
        abort = getattr(self.file, "abort", None)
        if abort is None:
            self.close()
        else:
            abort()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # The inner file decides: a write left by an exception stores nothing.
        self.file.__exit__(exc_type, exc_value, traceback)


@deconstructible
class RemoteTreeStorage(BaseStorage):
    """A storage of files under ``self._root`` on one server (set ``_root`` in ``configure()``).

    Backends declare the options ``allow_overwrite``, ``base_url`` and
    ``max_idle_connections``.
    """

    transient_attributes: ClassVar[tuple[str, ...]] = ("_pool",)
    #: What ``open()`` returns (each backend names it as django-storages does).
    file_class: ClassVar[type[RemoteFile]] = RemoteFile
    overwrite_option = "allow_overwrite"
    #: What :meth:`_remove_temporaries` shrugs off: cleanup is best effort.
    cleanup_errors: ClassVar[tuple[type[BaseException], ...]] = (Exception,)

    _root: str

    # --- hooks ------------------------------------------------------------------

    def _pool_recipe(self) -> PoolRecipe:
        """How to connect; raise ImproperlyConfigured when the server is not set."""
        raise NotImplementedError

    def _client(self, connection: Any) -> Any:
        """What operations are handed for a pooled connection."""
        return connection

    def _translate(self, exc: Exception, name: str, action: str) -> BaseException:
        """The error to raise for ``exc`` (``exc`` itself to let it through)."""
        return exc

    def _describe_store(self) -> str | None:
        """Server and root for messages (never a password); None when not configured."""
        raise NotImplementedError

    def _open_reader(self, name: str, path: str) -> tuple[io.RawIOBase, int]:
        """A raw stream of the file at ``path`` and its size."""
        raise NotImplementedError

    def _upload(self, client: Any, temporary: str, content: Any) -> None:
        """Write ``content`` to ``temporary``, making its directories if needed."""
        raise NotImplementedError

    def _publish(self, name: str, temporary: str, overwrite: bool) -> str:
        """Move ``temporary`` to ``name`` (or a free name); return the name used."""
        raise NotImplementedError

    def _remove_file(self, client: Any, path: str) -> None:
        """Remove the file at ``path`` (a temporary upload that will not be published)."""
        raise NotImplementedError

    def _list(self, client: Any, directory: str) -> list[tuple[str, bool]]:
        """``(name, is_directory)`` for each entry of ``directory``."""
        raise NotImplementedError

    # --- connections --------------------------------------------------------------

    @property
    def pool(self) -> ConnectionPool[Any]:
        pool = self.__dict__.get("_pool")
        if pool is None:
            recipe = self._pool_recipe()
            max_idle = int(self.max_idle_connections)
            pool = shared_pool(
                (*recipe.key, max_idle),
                lambda: ConnectionPool(
                    recipe.connect,
                    recipe.close,
                    recipe.is_dead,
                    alive=recipe.alive,
                    max_idle=max_idle,
                ),
            )
            self.__dict__["_pool"] = pool
        return pool

    def close(self) -> None:
        """Close idle connections (they are also closed when the storage is collected)."""
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.close()

    def __enter__(self) -> RemoteTreeStorage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        """``with Storage(...) as storage:`` closes the connections on the way out."""
        self.close()

    def _run(
        self, operation: Callable[[Any], T], name: str, action: str, *, retry: bool = True
    ) -> T:
        try:
            return self.pool.run(
                lambda connection: operation(self._client(connection)), retry=retry
            )
        except Exception as exc:
            error = self._translate(exc, name, action)
            if error is exc:
                raise
            raise error from None

    def _path(self, name: str) -> str:
        """Where the file ``name`` is; a name that is the root itself is refused."""
        return file_join(self._root, name)

    def _where(self, name: str = "") -> str:
        where = self._describe_store()
        if where is None:
            return repr(name)
        return f"{name!r} on {where}" if name else where

    # --- reading and writing --------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> RemoteFile:
        return self.file_class(name, self, mode)

    def _open_stream(self, name: str, mode: str) -> ReadFile | SpooledWriteFile:
        """The file that does the reading or writing behind :attr:`file_class`."""
        path = self._path(name)
        if is_write_mode(mode):
            return SpooledWriteFile(
                name, mode, lambda spool: self._store(name, spool, overwrite=True)
            )
        return ReadFile(name, mode, lambda: self._open_reader(name, path))

    def _save(self, name: str, content: Any) -> str:
        return self._store(name, content, overwrite=bool(self.allow_overwrite))

    def _store(self, name: str, content: Any, *, overwrite: bool) -> str:
        name = clean_name(name)
        directory = posixpath.dirname(self._path(name))
        temporaries: list[str] = []
        # A stream that cannot rewind cannot be sent again on a fresh connection.
        seekable = not hasattr(content, "seekable") or content.seekable()

        def upload(client: Any) -> None:
            # Every attempt gets its own name, so each is removed on failure.
            temporary = posixpath.join(directory, temporary_name())
            temporaries.append(temporary)
            self._upload(client, temporary, content)

        try:
            self._run(upload, name, "upload", retry=seekable)
            return self._publish(name, temporaries[-1], overwrite)
        except BaseException:
            self._remove_temporaries(temporaries)
            raise

    def _remove_temporaries(self, temporaries: list[str]) -> None:
        for temporary in temporaries:
            try:
                self.pool.run(
                    lambda connection, path=temporary: self._remove_file(
                        self._client(connection), path
                    ),
                    retry=False,
                )
            except self.cleanup_errors:
                logger.debug("Could not remove a temporary upload on %s", self._where())

    # --- the rest of the Storage API ---------------------------------------------------

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directory = safe_join(self._root, path)  # "" lists the root
        try:
            entries = self._run(lambda client: self._list(client, directory), path, "list")
        except FileNotFoundError:
            if directory == self._root:
                return [], []  # a store nothing was saved to yet
            raise
        directories = [name for name, is_dir in entries if is_dir]
        files = [name for name, is_dir in entries if not is_dir and not TEMP_NAME.match(name)]
        return directories, files

    def _as_configured(self, moment: datetime.datetime) -> datetime.datetime:
        """An aware time as Django wants it: aware with USE_TZ, naive local time without."""
        return moment if setting("USE_TZ") else timezone.make_naive(moment)

    def url(self, name: str) -> str:
        base_url = self.base_url if self.base_url is not None else setting("MEDIA_URL")
        if base_url is None:
            base_url_setting = self.option_table()["base_url"][0]
            raise ValueError(f"{type(self).__name__}.url() needs {base_url_setting} or MEDIA_URL.")
        # Checked as save() checks names: the URL cannot leave base_url's origin or path.
        return url_under(base_url, name)
