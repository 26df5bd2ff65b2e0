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
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.core.files import File

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
    A single-request upload goes through ``direct`` when given and able.
    """
    first = read_exactly(stream, max(transfer.threshold, 1))
    condition = {"IfNoneMatch": "*"} if conditional else {}
    if len(first) < transfer.threshold:
        if direct is None or not direct.put(key, first, {**extra_args, **condition}):
            client.put_object(Bucket=bucket, Key=key, Body=first, **extra_args, **condition)
        return
    upload_multipart(
        client,
        bucket,
        key,
        _parts(first, stream, transfer.part_size),
        extra_args=extra_args,
        condition=condition,
        concurrency=transfer.concurrency,
    )


def _parts(first: bytes, stream: IO[bytes], part_size: int) -> Iterator[bytes]:
    """Part-sized pieces of ``first`` and then the rest of ``stream``.

    Pieces are read straight at part size, so no part is ever copied or joined
    with another (memory stays at the parts in flight).
    """
    leftover = b""
    if len(first) == part_size:
        yield first
    else:
        whole = len(first) - len(first) % part_size
        for offset in range(0, whole, part_size):
            yield first[offset : offset + part_size]
        leftover = first[whole:]
    del first
    while True:
        piece = read_exactly(stream, part_size - len(leftover))
        if leftover:
            piece, leftover = leftover + piece, b""
        if not piece:
            return
        yield piece
        if len(piece) < part_size:
            return


def upload_multipart(
    client: Any,
    bucket: str,
    key: str,
    parts: Iterator[bytes],
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
                # ``concurrency`` parts are in memory at once.
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
    body: bytes,
    per_part: dict[str, Any] | None = None,
) -> dict[str, Any]:
    answer = client.upload_part(
        Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body, **(per_part or {})
    )
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
