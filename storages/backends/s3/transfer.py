"""Uploads with a conditional create, in bounded memory.

boto3's managed transfer cannot send ``If-None-Match`` on the request that
publishes an object, so uploads are done here: one ``PutObject`` for small
content, otherwise a multipart upload whose parts go out a few at a time (at
most ``concurrency`` parts are held in memory) and whose completion carries the
condition. Any failure aborts the multipart upload, so nothing appears under
the key.
"""

from __future__ import annotations

import concurrent.futures
import io
import logging
import os
import queue
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.core.files import File

from storages.files import file_on_disk, plain_io, pread_exactly
from storages.utils import rewindable

if TYPE_CHECKING:
    from storages.backends.s3.direct import DirectPut

logger = logging.getLogger("storages.s3")

MIB = 1024 * 1024
#: S3 refuses parts smaller than this (except the last one).
MIN_PART_SIZE = 5 * MIB
MAX_PARTS = 10_000


@dataclass(frozen=True)
class TransferSettings:
    threshold: int = 8 * MIB
    part_size: int = 8 * MIB
    concurrency: int = 4

    @classmethod
    def from_config(cls, config: Any) -> TransferSettings:
        """Read the fields of a ``boto3.s3.transfer.TransferConfig`` (or keep defaults)."""
        if config is None:
            return cls()
        threads = getattr(config, "use_threads", True)
        return cls(
            threshold=int(getattr(config, "multipart_threshold", cls.threshold)),
            part_size=max(MIN_PART_SIZE, int(getattr(config, "multipart_chunksize", MIB * 8))),
            concurrency=max(1, int(getattr(config, "max_concurrency", 4))) if threads else 1,
        )


def read_exactly(stream: IO[bytes], size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream."""
    pieces = []
    remaining = size
    while remaining > 0:
        piece = stream.read(remaining)
        if not piece:
            break
        if isinstance(piece, str):
            piece = piece.encode()
        pieces.append(piece)
        remaining -= len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def upload(
    client: Any,
    bucket: str,
    key: str,
    stream: IO[bytes],
    *,
    extra_args: dict[str, Any],
    conditional: bool,
    transfer: TransferSettings,
    direct: DirectPut | None = None,
) -> None:
    """Store everything ``stream`` yields under ``key``.

    With ``conditional``, the object is only created if the key is free; a taken
    key raises botocore's ``ClientError`` with code ``PreconditionFailed``.
    A single-request upload goes through ``direct`` when given and able. A big
    file on disk is sent from the disk, part by part (no part is held in memory);
    other content is read into ``concurrency`` buffers, reused part after part.
    """
    condition = {"IfNoneMatch": "*"} if conditional else {}
    on_disk = file_on_disk(stream)
    if on_disk is not None and on_disk[2] >= max(transfer.threshold, 1):
        parts: Iterator[PartBody] = _file_parts(*on_disk, transfer.part_size)
    else:
        first = read_exactly(stream, max(transfer.threshold, 1))
        if len(first) < transfer.threshold:
            if direct is None or not direct.put(key, first, {**extra_args, **condition}):
                client.put_object(Bucket=bucket, Key=key, Body=first, **extra_args, **condition)
            return
        pool = BufferPool(transfer.concurrency, transfer.part_size)
        parts = _buffered_parts(first, stream, pool)
    upload_multipart(
        client,
        bucket,
        key,
        parts,
        extra_args=extra_args,
        condition=condition,
        concurrency=transfer.concurrency,
    )


# --- part bodies ----------------------------------------------------------------------


class PartBody(io.RawIOBase):
    """One part as a seekable stream of its own (botocore hashes it, then sends it).

    Reads hand out small pieces, so the part is never copied whole.
    """

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length
        self._position = 0

    def __len__(self) -> int:
        return self.length

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self.length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        remaining = self.length - self._position
        amount = remaining if size is None or size < 0 else min(size, remaining)
        if amount <= 0:
            return b""
        data = self._read_at(self._position, amount)
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read_at(self, position: int, amount: int) -> bytes:
        raise NotImplementedError


class FilePart(PartBody):
    """A slice of a file on disk, read with ``os.pread`` (no shared file position)."""

    def __init__(self, fd: int, offset: int, length: int) -> None:
        super().__init__(length)
        self.fd, self.offset = fd, offset

    def _read_at(self, position: int, amount: int) -> bytes:
        return pread_exactly(self.fd, amount, self.offset + position)


class BufferPart(PartBody):
    """A part read into one of a pool's buffers; the buffer goes back when it is sent."""

    def __init__(self, pool: BufferPool, buffer: bytearray, length: int) -> None:
        super().__init__(length)
        self.pool, self.buffer = pool, buffer
        self.view = memoryview(buffer)[:length]

    def _read_at(self, position: int, amount: int) -> bytes:
        return bytes(self.view[position : position + amount])

    def release(self) -> None:
        self.view.release()
        self.pool.give_back(self.buffer)


class BufferPool:
    """At most ``count`` part-sized buffers, each made once and reused."""

    def __init__(self, count: int, size: int) -> None:
        self.size, self.count = size, count
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._made = 0

    def take(self) -> bytearray:
        """A free buffer (only called when fewer than ``count`` parts are in flight)."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            self._made += 1
            return bytearray(self.size)

    def give_back(self, buffer: bytearray) -> None:
        self._free.put(buffer)


def _file_parts(fd: int, offset: int, size: int, part_size: int) -> Iterator[PartBody]:
    for start in range(0, size, part_size):
        yield FilePart(fd, offset + start, min(part_size, size - start))


def _buffered_parts(first: bytes, stream: IO[bytes], pool: BufferPool) -> Iterator[PartBody]:
    """``first`` and then the rest of ``stream``, in part-sized pooled buffers."""
    pending = memoryview(first)
    while True:
        buffer = pool.take()
        view = memoryview(buffer)
        filled = min(len(pending), pool.size)
        view[:filled] = pending[:filled]
        pending = pending[filled:]
        while filled < pool.size:
            got = _read_into(stream, view[filled:])
            if not got:
                break
            filled += got
        view.release()
        if not filled:
            pool.give_back(buffer)
            return
        yield BufferPart(pool, buffer, filled)
        if filled < pool.size:
            return


def _read_into(stream: Any, view: memoryview) -> int:
    plain = plain_io(stream)
    readinto = getattr(plain, "readinto", None)
    if readinto is not None:
        try:
            return readinto(view) or 0
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation
            pass
    piece = stream.read(len(view))
    if isinstance(piece, str):
        piece = piece.encode()
    if len(piece) > len(view):  # a str that grew when encoded
        raise ValueError("text content cannot be uploaded in parts; open it in binary mode")
    view[: len(piece)] = piece
    return len(piece)


def upload_multipart(
    client: Any,
    bucket: str,
    key: str,
    parts: Iterator[PartBody],
    *,
    extra_args: dict[str, Any],
    condition: dict[str, str],
    concurrency: int,
) -> None:
    from storages.backends.s3.options import part_parameters

    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **extra_args)["UploadId"]
    # Customer-provided keys (SSE-C) go on every part and on the completion too.
    per_part = part_parameters(extra_args)
    try:
        done: list[dict[str, Any]] = []
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=concurrency, thread_name_prefix="storages-s3-part"
        ) as pool:
            in_flight: set[concurrent.futures.Future] = set()
            number = 0
            while True:
                # Wait for a free slot before reading the next part: at most
                # ``concurrency`` parts (and buffers) are in use at once.
                while len(in_flight) >= concurrency:
                    finished, in_flight = concurrent.futures.wait(
                        in_flight, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    done.extend(future.result() for future in finished)
                body = next(parts, None)
                if body is None:
                    break
                number += 1
                if number > MAX_PARTS:
                    raise ValueError(f"more than {MAX_PARTS} parts: raise the part size")
                in_flight.add(
                    pool.submit(
                        _upload_part, client, bucket, key, upload_id, number, body, per_part
                    )
                )
                del body
            done.extend(future.result() for future in in_flight)
        done.sort(key=lambda part: part["PartNumber"])
        client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": done},
            **condition,
            **per_part,
        )
    except BaseException:
        abort_multipart(client, bucket, key, upload_id)
        raise


def _upload_part(
    client: Any,
    bucket: str,
    key: str,
    upload_id: str,
    number: int,
    body: PartBody | bytes,
    per_part: dict[str, Any] | None = None,
) -> dict[str, Any]:
    try:
        answer = client.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            **(per_part or {}),
        )
    finally:
        if isinstance(body, BufferPart):
            body.release()
    part = {"PartNumber": number, "ETag": answer["ETag"]}
    for checksum in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumCRC64NVME", "ChecksumSHA1"):
        if answer.get(checksum):
            part[checksum] = answer[checksum]
    return part


def abort_multipart(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort an unfinished multipart upload; a failure here is logged, not raised."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception as exc:
        logger.warning(
            "Could not abort the multipart upload of s3://%s/%s (%s); "
            "a bucket lifecycle rule for incomplete uploads removes such leftovers.",
            bucket,
            key,
            type(exc).__name__,
        )


# --- content handed to save() ------------------------------------------


def rewound(content: Any) -> Any:
    """``content`` at its start, for a retry, where it can seek."""
    if rewindable(content):
        content.seek(0)
    return content


def spooled_copy(content: Any, max_memory_size: int) -> Any:
    """Copy a one-pass stream to a spooled temporary file so a retry can re-read it."""
    spool = tempfile.SpooledTemporaryFile(max_size=max_memory_size or 8 * MIB)  # noqa: SIM115 - returned open
    for chunk in content.chunks() if hasattr(content, "chunks") else iter(content.read, b""):
        spool.write(chunk.encode() if isinstance(chunk, str) else chunk)
    spool.seek(0)
    copied = File(spool, getattr(content, "name", None))
    if getattr(content, "content_type", None):
        copied.content_type = content.content_type
    return copied


def size_of(content: Any) -> int:
    """The byte size of seekable ``content`` (its ``size`` where it has one)."""
    size = getattr(content, "size", None)
    if size is not None:
        return int(size)
    position = content.tell()
    content.seek(0, os.SEEK_END)
    size = content.tell()
    content.seek(position)
    return size
