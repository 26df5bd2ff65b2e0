"""Libcloud objects as Django files, in bounded memory.

Reading: :class:`LibCloudFile` streams the object. Drivers with ranged
downloads (S3 and its kin, Azure, Google, ...) fetch from the read position
with ``download_object_range_as_stream``, so a seek costs one new request;
the others (the LOCAL driver, whose ranged read loads the whole file into
memory) stream ``download_object_as_stream`` and skip to the position. Nothing
is fetched before the first read; memory is one chunk whatever the size.

Writing: :class:`LibCloudWriteFile` spools what is written (in memory while
small, then on disk) and stores it once, on ``close()``; a file abandoned or
left by an exception stores nothing.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Callable, Iterator
from typing import Any

from storages.backends.apache_libcloud.errors import Where, libcloud_errors
from storages.files import SPOOL_MAX_MEMORY, ChunkReader, ReadFile, SpooledWriteFile

#: Bytes per chunk of a download.
READ_CHUNK_SIZE = 1024 * 1024


def has_ranges(driver: Any) -> bool:
    """Whether the driver's ranged download streams (the LOCAL one reads it all first)."""
    from libcloud.storage.base import StorageDriver

    method = getattr(type(driver), "download_object_range_as_stream", None)
    if method is None or method is StorageDriver.download_object_range_as_stream:
        return False
    return type(driver).__module__ != "libcloud.storage.drivers.local"


def fetcher(
    driver: Any, obj: Any, where: Where, name: str, chunk_size: int = READ_CHUNK_SIZE
) -> Callable[[int], Iterator[bytes]]:
    """``fetch(offset)``: the object's bytes from ``offset`` on, in chunks."""
    ranged = has_ranges(driver)

    def fetch(offset: int) -> Iterator[bytes]:
        with libcloud_errors(where, name, "read"):
            if ranged:
                stream = driver.download_object_range_as_stream(
                    obj, offset, None, chunk_size=chunk_size
                )
                yield from stream
                return
            skip = offset
            for chunk in driver.download_object_as_stream(obj, chunk_size=chunk_size):
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                yield chunk[skip:] if skip else chunk
                skip = 0

    return fetch


class LibCloudFile(ReadFile):
    """An object opened for reading (django-storages' class name); ``obj`` is the
    Libcloud ``Object`` found when it was opened."""

    def __init__(
        self, name: str, mode: str, driver: Any, obj: Any, where: Where, *, chunk_size: int
    ) -> None:
        self.obj = obj
        self.mime_type = mimetypes.guess_type(name)[0]
        size = int(obj.size or 0)
        fetch = fetcher(driver, obj, where, name, chunk_size)

        def opener() -> tuple[io.RawIOBase, int]:
            return ChunkReader(fetch, size), size

        super().__init__(name, mode, opener)


class LibCloudWriteFile(SpooledWriteFile):
    """An object opened for writing: stored on ``close()`` (``abort()`` stores nothing)."""

    def __init__(
        self,
        name: str,
        mode: str,
        upload: Callable[[Any], Any],
        *,
        max_memory_size: int = SPOOL_MAX_MEMORY,
    ) -> None:
        self.mime_type = mimetypes.guess_type(name)[0]
        super().__init__(name, mode, upload, max_memory_size=max_memory_size)
