"""Google Cloud Storage objects as Django files, in bounded memory.

Reading: :class:`GoogleCloudFile` streams one generation of the object through
ranged downloads of ``read_chunk_size`` bytes (nothing is fetched before the
first read; a seek drops the download and the next read starts a new range
there), so a file of any size costs one chunk of memory and a reader never
mixes two versions of a replaced object.

Writing: :class:`GoogleCloudWriteFile` spools what is written (in memory up to
``max_memory_size``, then on disk) and uploads it once, on ``close()``; a file
abandoned or left by an exception uploads nothing.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator
from typing import Any

from storages.backends.gcloud.errors import gcs_errors
from storages.files import ChunkReader, ReadFile, SpooledWriteFile

#: Bytes one ranged download fetches while reading.
READ_CHUNK_SIZE = 4 * 1024 * 1024


def range_fetcher(
    blob: Any,
    size: int,
    bucket: str,
    chunk_size: int = READ_CHUNK_SIZE,
    retry: dict[str, Any] | None = None,
) -> Callable[[int], Iterator[bytes]]:
    """``fetch(offset)``: the object's bytes from ``offset`` on, one ranged GET per chunk."""

    def fetch(offset: int) -> Iterator[bytes]:
        start = offset
        while start < size:
            end = min(start + chunk_size, size) - 1
            with gcs_errors(bucket, blob.name, "read"):
                data = blob.download_as_bytes(
                    start=start, end=end, raw_download=True, **(retry or {})
                )
            if not data:
                return
            yield data
            start += len(data)

    return fetch


class GoogleCloudFile(ReadFile):
    """An object opened for reading; ``blob`` is its google-cloud-storage ``Blob``
    (pinned to the generation found when the file was opened)."""

    def __init__(
        self,
        name: str,
        mode: str,
        blob: Any,
        bucket: str,
        *,
        chunk_size: int = READ_CHUNK_SIZE,
        retry: dict[str, Any] | None = None,
    ) -> None:
        self.blob = blob
        self.mime_type = mimetypes.guess_type(name)[0]
        size = int(blob.size or 0)

        def opener() -> tuple[ChunkReader, int]:
            return (
                ChunkReader(range_fetcher(blob, size, bucket, chunk_size, retry), size),
                size,
            )

        super().__init__(name, mode, opener)


class GoogleCloudWriteFile(SpooledWriteFile):
    """An object opened for writing: uploaded on ``close()`` (``abort()`` stores nothing)."""

    def __init__(
        self, name: str, mode: str, upload: Callable[[Any], Any], *, max_memory_size: int
    ) -> None:
        self.mime_type = mimetypes.guess_type(name)[0]
        super().__init__(name, mode, upload, max_memory_size=max_memory_size)
