"""Azure blobs as files: ranged streaming reads and staged-block writes in bounded memory.

Reading: :func:`open_reader` starts one download (whose answer gives the size
and ETag), then :class:`~storages.files.ChunkReader` reads its chunks; a seek
elsewhere starts a ranged download there, pinned to the same ETag so a blob
replaced mid-read is an error, never a mix of two versions.

Writing: :func:`upload_stream` sends a small file in one ``Put Blob``, a larger
one as staged blocks (a few in flight, ``upload_max_conn`` at a time) that one
``Put Block List`` commits; until that commit nothing is under the name, so a
failed upload leaves nothing (staged blocks that are never committed are not a
blob, and the service discards them). A create-only upload
(``If-None-Match: *``) finds a taken name with ``BlobAlreadyExists``.
The MD5 of the content is computed on the way and stored as ``Content-MD5``
(collectstatic compares it), which Azure only computes itself for ``Put Blob``;
above ``md5_max_size`` (``AZURE_CONTENT_MD5_MAX_SIZE``) it is not: hashing is
most of the client's CPU for a big upload, which on a loaded machine slows the
whole save, and such files are compared by size and time instead.
A big file on disk is sent from the disk: each worker reads its own block with
``os.pread`` when it starts, while the MD5 is computed from the same file in
small reads at the same time, so nothing waits for the hash and no more than
``upload_max_conn`` blocks are ever in memory.
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import io
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from django.core.files.base import File

from storages.files import (
    ChunkReader,
    ReadFile,
    SpooledWriteFile,
    file_on_disk,
    is_write_mode,
    pread_exactly,
)

if TYPE_CHECKING:
    from storages.backends.azure_storage.storage import AzureStorage

MIB = 1024 * 1024
#: Files up to this size go in one Put Blob; larger ones as staged blocks.
SINGLE_PUT_SIZE = 8 * MIB
#: The size of a staged block.
BLOCK_SIZE = 4 * MIB
#: The size of one read of a file on disk for its MD5 (not held: hashed and dropped).
HASH_PIECE = 1 * MIB
#: The size of one ranged download (fewer, larger requests read faster).
READ_CHUNK_SIZE = 8 * MIB
#: Staged uploads up to this size get a ``Content-MD5`` computed here (the default).
MD5_MAX_SIZE = 64 * MIB


def open_reader(
    blob_client: Any, errors: Callable[[str], Any], timeout: Any
) -> tuple[io.RawIOBase, int]:
    """A raw reader over the blob and its size (one request: the first download)."""
    from azure.core import MatchConditions

    with errors("open"):
        first = blob_client.download_blob(timeout=timeout)
    size = first.size
    etag = first.properties.etag
    pending: list[Any] = [first]

    def fetch(offset: int) -> Iterator[bytes]:
        if offset == 0 and pending:
            downloader = pending.pop()
        else:
            pending.clear()
            with errors("read"):
                downloader = blob_client.download_blob(
                    offset=offset,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                    timeout=timeout,
                )
        with errors("read"):
            yield from downloader.chunks()

    return ChunkReader(fetch, size), size


class AzureStorageFile(File):
    """django-storages' name for an open blob: ``AzureStorageFile(name, mode, storage)``.

    Reading modes give a streaming reader, writing modes a spooled writer that
    uploads on ``close()`` (and stores nothing if the ``with`` block fails).
    """

    def __new__(cls, name: str, mode: str = "rb", storage: AzureStorage | None = None) -> Any:
        if cls is AzureStorageFile:
            cls = AzureWriteFile if is_write_mode(mode) else AzureReadFile
        return File.__new__(cls)


class AzureReadFile(ReadFile, AzureStorageFile):
    def __init__(self, name: str, mode: str, storage: AzureStorage) -> None:
        ReadFile.__init__(self, name, mode, lambda: storage._reader(name))


class AzureWriteFile(SpooledWriteFile, AzureStorageFile):
    def __init__(self, name: str, mode: str, storage: AzureStorage) -> None:
        SpooledWriteFile.__init__(
            self,
            name,
            mode,
            lambda spool: storage._upload(name, spool, overwrite=True),
            max_memory_size=int(storage.max_memory_size or 0),
        )


def _block_id(prefix: str, index: int) -> str:
    return base64.b64encode(f"{prefix}-{index:06d}".encode()).decode()


def upload_stream(
    blob_client: Any,
    stream: IO[bytes],
    size: int,
    *,
    content_settings: Any,
    overwrite: bool,
    concurrency: int,
    timeout: Any,
    single_put_size: int = SINGLE_PUT_SIZE,
    block_size: int = BLOCK_SIZE,
    metadata: dict[str, str] | None = None,
    md5_max_size: int | None = MD5_MAX_SIZE,
) -> None:
    """Store ``size`` bytes of ``stream`` (at its start) as the blob; see the module doc.

    Staged uploads of more than ``md5_max_size`` bytes get no ``Content-MD5``
    (``None``: every staged upload gets one).
    """
    from azure.core import MatchConditions

    concurrency = max(1, int(concurrency or 1))
    conditions: dict[str, Any] = {} if overwrite else {"match_condition": MatchConditions.IfMissing}
    if size <= single_put_size:
        data = stream.read(size) if size else b""
        if isinstance(data, str):
            data = data.encode()
        blob_client.upload_blob(
            data,
            length=len(data),
            overwrite=overwrite,
            content_settings=content_settings,
            metadata=metadata,
            timeout=timeout,
        )
        return
    hashed = md5_max_size is None or size <= md5_max_size
    digest = hashlib.md5(usedforsecurity=False) if hashed else None
    prefix = uuid.uuid4().hex  # blocks of concurrent uploads to one name never mix
    on_disk = file_on_disk(stream)
    if on_disk is not None:
        fd, offset, _rest = on_disk
        ids = _stage_from_disk(
            blob_client, fd, offset, size, digest, prefix, block_size, concurrency, timeout
        )
    else:
        ids = _stage_from_stream(
            blob_client, stream, digest, prefix, block_size, concurrency, timeout
        )
    if digest is not None and content_settings is not None and not content_settings.content_md5:
        content_settings.content_md5 = bytearray(digest.digest())
    blob_client.commit_block_list(
        ids, content_settings=content_settings, metadata=metadata, timeout=timeout, **conditions
    )


def _stage_from_disk(
    blob_client: Any,
    fd: int,
    offset: int,
    size: int,
    digest: Any,
    prefix: str,
    block_size: int,
    concurrency: int,
    timeout: Any,
) -> list[str]:
    """Stage ``size`` bytes of the file ``fd`` from ``offset``; the workers read their blocks.

    Each worker reads its own block from the disk when it starts (so at most
    ``concurrency`` blocks are in memory) while this thread computes the MD5 in
    small reads of the same file, at the same time as the blocks go out.
    """
    starts = range(0, size, block_size)
    ids = [_block_id(prefix, index) for index in range(len(starts))]
    failed = threading.Event()

    def stage(block_id: str, start: int) -> None:
        if failed.is_set():
            return
        try:
            data = pread_exactly(fd, min(block_size, size - start), offset + start)
            blob_client.stage_block(block_id, data, length=len(data), timeout=timeout)
        except BaseException:
            failed.set()
            raise

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        pairs = zip(ids, starts, strict=True)
        futures = [pool.submit(stage, block_id, start) for block_id, start in pairs]
        try:
            for start in range(0, size if digest is not None else 0, HASH_PIECE):
                if failed.is_set():
                    break
                digest.update(pread_exactly(fd, min(HASH_PIECE, size - start), offset + start))
            for future in futures:
                future.result()
        except BaseException:
            failed.set()
            for future in futures:
                future.cancel()
            raise
    return ids


def _stage_from_stream(
    blob_client: Any,
    stream: IO[bytes],
    digest: Any,
    prefix: str,
    block_size: int,
    concurrency: int,
    timeout: Any,
) -> list[str]:
    """Stage what ``stream`` yields, block by block, ``concurrency`` blocks in flight."""
    ids: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        running: set[concurrent.futures.Future[Any]] = set()
        try:
            while True:
                block = stream.read(block_size)
                if not block:
                    break
                if isinstance(block, str):
                    block = block.encode()
                if digest is not None:
                    digest.update(block)
                block_id = _block_id(prefix, len(ids))
                ids.append(block_id)
                if len(running) >= concurrency:
                    done, running = concurrent.futures.wait(
                        running, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for future in done:
                        future.result()
                running.add(pool.submit(blob_client.stage_block, block_id, block, timeout=timeout))
            for future in concurrent.futures.as_completed(running):
                future.result()
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return ids


__all__ = [
    "BLOCK_SIZE",
    "MD5_MAX_SIZE",
    "READ_CHUNK_SIZE",
    "SINGLE_PUT_SIZE",
    "AzureReadFile",
    "AzureStorageFile",
    "AzureWriteFile",
    "open_reader",
    "upload_stream",
]
