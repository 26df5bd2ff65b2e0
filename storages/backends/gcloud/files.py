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

import gzip
import io
import mimetypes
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any

from storages.backends.gcloud.errors import gcs_errors
from storages.files import SPOOL_MAX_MEMORY, ChunkReader, ReadFile, SpooledWriteFile, StreamReader
from storages.utils import DEFAULT_CHUNK_SIZE, content_chunks

#: Object metadata holding the original size of content this backend gzipped.
UNCOMPRESSED_SIZE = "storages-uncompressed-size"

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


def is_our_gzip(blob: Any) -> bool:
    """Gzipped by this backend: reads decompress, sizes are the original's."""
    return blob.content_encoding == "gzip" and UNCOMPRESSED_SIZE in (blob.metadata or {})


def stored_size(blob: Any) -> int:
    """The size a reader of the object gets (the original size of gzipped content)."""
    if is_our_gzip(blob):
        return int(blob.metadata[UNCOMPRESSED_SIZE])
    return int(blob.size or 0)


def gzipped(content: Any, level: int = 6) -> tuple[IO[bytes], int]:
    """``content`` gzip-compressed into a spooled file (at offset 0), and its original size."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)  # noqa: SIM115
    size = 0
    with gzip.GzipFile(fileobj=spool, mode="wb", compresslevel=level, mtime=0) as packer:
        for chunk in content_chunks(content):
            packer.write(chunk)
            size += len(chunk)
    spool.seek(0)
    return spool, size


def _gunzip_opener(compressed: Callable[[], ChunkReader]) -> Callable[[int], IO[bytes]]:
    """``open_at(offset)`` for gzipped content: inflate from the start, skip to ``offset``."""

    def open_at(offset: int) -> IO[bytes]:
        stream = gzip.GzipFile(fileobj=io.BufferedReader(compressed(), DEFAULT_CHUNK_SIZE))
        while offset > 0:
            skipped = stream.read(min(offset, DEFAULT_CHUNK_SIZE))
            if not skipped:
                break
            offset -= len(skipped)
        return stream

    return open_at


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

        def raw() -> ChunkReader:
            return ChunkReader(range_fetcher(blob, size, bucket, chunk_size, retry), size)

        def opener() -> tuple[io.RawIOBase, int]:
            if is_our_gzip(blob):
                original = stored_size(blob)
                return StreamReader(_gunzip_opener(raw), original), original
            return raw(), size

        super().__init__(name, mode, opener)


class GoogleCloudWriteFile(SpooledWriteFile):
    """An object opened for writing: uploaded on ``close()`` (``abort()`` stores nothing)."""

    def __init__(
        self, name: str, mode: str, upload: Callable[[Any], Any], *, max_memory_size: int
    ) -> None:
        self.mime_type = mimetypes.guess_type(name)[0]
        super().__init__(name, mode, upload, max_memory_size=max_memory_size)
