"""MongoDB GridFS storage (``storages.backends.mongodb.GridFSStorage``).

Files live in a GridFS bucket (``<bucket>.files`` + ``<bucket>.chunks``) and are
moved with pymongo's ``GridFSBucket``, in chunks both ways. One file per name is
enforced by the server: the backend adds a unique index on ``filename`` to the
files collection, and GridFS inserts a file's document only after all its chunks
are written. So a name either has one complete file or none; two concurrent
saves of one name collide on the index and the loser takes a new name (or, with
``file_overwrite``, sets the old version aside first).
"""

from __future__ import annotations

import datetime
import mimetypes
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.base import MASK, BaseStorage, SettingSpec
from storages.files import ReadFile, SpooledWriteFile, StreamReader, require_read_or_write_mode
from storages.utils import (
    content_chunks,
    file_join,
    is_root,
    require,
    safe_join,
    split_listing,
    url_under,
)

pymongo = require("pymongo", "mongodb")
gridfs = require("gridfs", "mongodb")
from bson import ObjectId  # noqa: E402 - after the friendly import check
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError  # noqa: E402

UNIQUE_INDEX = "storages_filename_unique"
#: Prefix of names that hold a version being replaced; no user name starts with "/".
SET_ASIDE_PREFIX = "/.storages-replaced/"
DEFAULT_CHUNK_SIZE = 255 * 1024
MAX_ATTEMPTS = 20

_URI_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@", re.I)


def redact(text: str) -> str:
    """Text with any ``scheme://user:password@`` password masked."""
    return _URI_PASSWORD.sub(r"\g<scheme>\g<user>:********@", text)


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("mongodb://", "mongodb+srv://"))


class GridFSError(OSError):
    """A GridFS operation failed; the message names the file and the bucket."""


# MongoClient is thread-safe and runs monitor threads: share one per target.
_clients: dict[str, Any] = {}
_indexed: set[tuple[str, str, str]] = set()
_lock = threading.Lock()


def shared_client(uri: str, options: dict[str, Any]) -> tuple[str, Any]:
    key = repr((uri, sorted(options.items(), key=lambda item: item[0])))
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = pymongo.MongoClient(uri, **options)
    return key, client


@deconstructible
class GridFSStorage(BaseStorage):
    """Django storage over a MongoDB GridFS bucket."""

    transient_attributes = ("_grid", "_target")
    overwrite_option = "file_overwrite"

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            # A Django DATABASES alias, or a mongodb:// URI; with ``uri``, the database name.
            "database": ("GRIDFS_DATABASE", None),
            "uri": ("GRIDFS_URI", None),
            "bucket": ("GRIDFS_BUCKET", "fs"),
            "base_url": ("GRIDFS_BASE_URL", None),
            "client_options": ("GRIDFS_CLIENT_OPTIONS", {}),
            "chunk_size": ("GRIDFS_CHUNK_SIZE", DEFAULT_CHUNK_SIZE),
            "file_overwrite": ("GRIDFS_FILE_OVERWRITE", False),
        }

    # Configuration -------------------------------------------------------------------

    def _resolve(self) -> tuple[str, dict[str, Any], str, str]:
        """(URI, client keyword arguments, database name, description), worked out once.

        Resolved on first use rather than in ``configure()`` so that a settings
        change never raises inside Django's ``setting_changed`` signal.
        """
        target = self.__dict__.get("_target")
        if target is None:
            target = self.__dict__["_target"] = self._resolve_target()
        return target

    def _resolve_target(self) -> tuple[str, dict[str, Any], str, str]:
        options = dict(self.client_options or {})
        if self.uri:
            uri, database = self.uri, self.database or self._uri_database(self.uri)
            source = "URI"
        elif is_uri(self.database):
            uri, database = self.database, self._uri_database(self.database)
            source = "URI"
        else:
            uri, database, alias_options = self._from_alias(self.database or "default")
            options = {**alias_options, **options}
            source = f"Django database {self.database or 'default'!r}"
        if not database:
            raise ImproperlyConfigured(
                f"GridFSStorage needs a database name: put it in the URI path or in "
                f"'database' (from {source}: {redact(uri)})."
            )
        if not self.bucket or not isinstance(self.bucket, str):
            raise ImproperlyConfigured("GridFSStorage's 'bucket' must be a non-empty string.")
        hosts = ", ".join(f"{host}:{port}" for host, port in self._nodes(uri)) or "?"
        return uri, options, database, f"GridFS bucket {self.bucket!r} in {database!r} on {hosts}"

    @property
    def _where(self) -> str:
        return self._resolve()[3]

    @staticmethod
    def _nodes(uri: str) -> list[tuple[str, int]]:
        from pymongo import uri_parser

        if uri.startswith("mongodb+srv://"):  # parsing would resolve DNS
            return [(uri.split("@")[-1].split("/")[0], 27017)]
        try:
            return list(uri_parser.parse_uri(uri, validate=False)["nodelist"])
        except Exception as exc:
            raise ImproperlyConfigured(f"Invalid MongoDB URI: {redact(str(exc))}") from None

    @staticmethod
    def _uri_database(uri: str) -> str | None:
        path = uri.split("://", 1)[1].split("?", 1)[0]
        _hosts, _slash, database = path.partition("/")
        return database or None

    @staticmethod
    def _from_alias(alias: str) -> tuple[str, str, dict[str, Any]]:
        databases = settings.DATABASES
        if alias not in databases:
            raise ImproperlyConfigured(
                f"GRIDFS_DATABASE {alias!r} is neither a DATABASES alias nor a mongodb:// URI."
            )
        conf = databases[alias]
        if "mongo" not in str(conf.get("ENGINE", "")).lower():
            raise ImproperlyConfigured(
                f"DATABASES[{alias!r}] is not a MongoDB database (ENGINE "
                f"{conf.get('ENGINE')!r}); give GridFSStorage a 'uri' instead."
            )
        host = conf.get("HOST") or "localhost"
        options = dict(conf.get("OPTIONS") or {})
        if conf.get("USER"):
            options.setdefault("username", conf["USER"])
            options.setdefault("password", conf.get("PASSWORD") or "")
        port = int(conf.get("PORT") or 27017)
        uri = host if is_uri(host) else f"mongodb://{host}:{port}/"
        return uri, conf.get("NAME") or GridFSStorage._uri_database(uri) or "", options

    def __repr__(self) -> str:
        return redact(super().__repr__())

    def _shown_option(self, option: str, value: Any) -> Any:
        if option == "client_options" and value:  # the driver takes passwords here too
            return {k: MASK if "password" in k.lower() else v for k, v in value.items()}
        return super()._shown_option(option, value)

    # Connection -------------------------------------------------------------------------

    def _bucket(self) -> tuple[Any, Any]:
        """(files collection, GridFSBucket), built once per storage and thread-safe."""
        grid = self.__dict__.get("_grid")
        if grid is not None:
            return grid
        uri, client_kwargs, database_name, _where = self._resolve()
        key, client = shared_client(uri, client_kwargs)
        database = client[database_name]
        files = database[f"{self.bucket}.files"]
        bucket = gridfs.GridFSBucket(database, self.bucket, chunk_size_bytes=self.chunk_size)
        marker = (key, database_name, self.bucket)
        if marker not in _indexed:
            self._ensure_unique_index(files)
            with _lock:
                _indexed.add(marker)
        grid = self.__dict__["_grid"] = (files, bucket)
        return grid

    def _ensure_unique_index(self, files: Any) -> None:
        try:
            files.create_index([("filename", 1)], unique=True, name=UNIQUE_INDEX)
        except DuplicateKeyError:
            raise GridFSError(
                f"{self._where} already holds several files of one name; the storage needs "
                "one file per name (a unique index on filename). Remove the older duplicates."
            ) from None
        except OperationFailure as exc:
            if exc.code not in (85, 86):  # an equivalent index under another name is fine
                raise

    @contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, GridFSError, SuspiciousFileOperation):
            raise
        except (PyMongoError, gridfs.errors.GridFSError) as exc:
            message = str(exc)
            safe = redact(message)
            error = GridFSError(f"Could not {action} {name!r} in {self._where}: {safe}")
            # Chain the driver's exception only when it holds nothing to hide.
            raise error from (exc if safe == message else None)

    # Names --------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return file_join("", name)  # a name that cleans to nothing is no file: refused

    def replaced_name(self, name: str) -> str:
        return self._path(name)

    # Reading ------------------------------------------------------------------------------

    def _doc(self, path: str, name: str, projection: dict[str, int] | None = None) -> dict:
        files, _bucket = self._bucket()
        doc = files.find_one({"filename": path}, projection)
        if doc is None:
            raise FileNotFoundError(f"{name!r} does not exist in {self._where}")
        return doc

    def _open(self, name: str, mode: str = "rb") -> ReadFile | SpooledWriteFile:
        path = self._path(name)
        require_read_or_write_mode(name, mode)
        if "w" in mode:
            return SpooledWriteFile(
                name, mode, lambda spool: self._store(path, spool, overwrite=True)
            )
        with self._errors("open", name):
            doc = self._doc(path, name, {"length": 1})
            _files, bucket = self._bucket()
        file_id = doc["_id"]

        def open_at(position: int) -> IO[bytes]:
            with self._errors("read", name):
                try:
                    stream = bucket.open_download_stream(file_id)
                except gridfs.errors.NoFile:
                    raise FileNotFoundError(f"{name!r} was deleted from {self._where}") from None
                stream.seek(position)
                return _Chunked(stream, self, name)

        size = int(doc["length"])
        return ReadFile(name, mode, lambda: (StreamReader(open_at, size), size))

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        path = self._path(name)
        with self._errors("look up", name):
            files, _bucket = self._bucket()
            return files.find_one({"filename": path}, {"_id": 1}) is not None

    def size(self, name: str) -> int:
        with self._errors("get the size of", name):
            return int(self._doc(self._path(name), name, {"length": 1})["length"])

    def content_type(self, name: str) -> str | None:
        """The content type recorded when the file was saved."""
        with self._errors("get the content type of", name):
            doc = self._doc(self._path(name), name, {"metadata": 1, "contentType": 1})
        return (doc.get("metadata") or {}).get("contentType") or doc.get("contentType")

    def get_modified_time(self, name: str) -> datetime.datetime:
        with self._errors("get the upload date of", name):
            moment = self._doc(self._path(name), name, {"uploadDate": 1})["uploadDate"]
        if timezone.is_naive(moment):  # pymongo gives naive UTC unless tz_aware
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    get_created_time = get_modified_time

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join("", path).rstrip("/")  # "" lists the root
        prefix = f"{prefix}/" if prefix else ""
        # "/" + 1 == "0": every name under the prefix sorts in [prefix, upper).
        query = {"filename": {"$gte": prefix, "$lt": prefix[:-1] + "0"}} if prefix else {}
        with self._errors("list", path):
            files, _bucket = self._bucket()
            found = (doc["filename"] for doc in files.find(query, {"filename": 1, "_id": 0}))
            # Names starting with "/" are versions being replaced.
            return split_listing((name for name in found if not name.startswith("/")), prefix)

    def url(self, name: str) -> str:
        base = self.base_url if self.base_url is not None else settings.MEDIA_URL
        if not base:
            raise ValueError(
                "GridFSStorage has no base_url (GRIDFS_BASE_URL): "
                "point it at the view that serves the files."
            )
        return url_under(base, name)  # refused as save() refuses it

    # Writing ------------------------------------------------------------------------------

    def _save(self, name: str, content: Any) -> str:
        return self._store(self._path(name), content, overwrite=self.file_overwrite)

    def _store(self, path: str, content: Any, *, overwrite: bool) -> str:
        _files, bucket = self._bucket()
        content_type = (
            getattr(content, "content_type", None)
            or mimetypes.guess_type(path)[0]
            or "application/octet-stream"
        )
        with self._errors("save", path):
            upload = bucket.open_upload_stream(path, metadata={"contentType": content_type})
        try:
            with self._errors("save", path):
                for chunk in content_chunks(content, self.chunk_size * 16):
                    upload.write(chunk)
                return self._commit(upload, path, overwrite)
        except BaseException:
            # Chunks without a files document are invisible; remove them if we still can.
            with suppress(Exception):
                upload.abort()
            raise

    def _commit(self, upload: Any, path: str, overwrite: bool) -> str:
        """Insert the files document, resolving a taken name; return the stored name."""
        files, bucket = self._bucket()
        set_aside: list[Any] = []
        try:
            for _attempt in range(MAX_ATTEMPTS):
                try:
                    upload.close()  # chunks are in; this inserts the files document
                except gridfs.errors.FileExists:
                    if overwrite:
                        moved = self._set_aside(files, upload.filename)
                        if moved is not None:
                            set_aside.append(moved)
                    else:
                        upload.filename = self.get_available_name(upload.filename)
                    continue
                # Saved. Replaced versions are hidden already; a failure to delete
                # them must not undo the save.
                replaced, set_aside = set_aside, []
                for file_id in replaced:
                    with suppress(Exception):
                        bucket.delete(file_id)
                return upload.filename
            raise GridFSError(f"Gave up saving {path!r} in {self._where}: the name stayed taken.")
        finally:
            # The new version never landed: put the newest set-aside one back if we can.
            if set_aside:
                with suppress(Exception):
                    files.update_one({"_id": set_aside[-1]}, {"$set": {"filename": path}})

    def _set_aside(self, files: Any, path: str) -> Any:
        """Rename the current holder of ``path`` out of the way; return its id."""
        hidden = f"{SET_ASIDE_PREFIX}{ObjectId()}"
        doc = files.find_one_and_update(
            {"filename": path}, {"$set": {"filename": hidden}}, projection={"_id": 1}
        )
        return None if doc is None else doc["_id"]

    def delete(self, name: str) -> None:
        path = self._path(name)
        with self._errors("delete", name):
            files, bucket = self._bucket()
            doc = files.find_one({"filename": path}, {"_id": 1})
            if doc is not None:
                with suppress(gridfs.errors.NoFile):
                    bucket.delete(doc["_id"])


class _Chunked:
    """A GridOut whose driver errors come out as GridFSError naming the file."""

    def __init__(self, stream: Any, storage: GridFSStorage, name: str) -> None:
        self._stream, self._storage, self._name = stream, storage, name

    def read(self, size: int = -1) -> bytes:
        with self._storage._errors("read", self._name):
            return self._stream.read(size)

    def close(self) -> None:
        self._stream.close()
