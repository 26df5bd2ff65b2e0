"""The native async reader that ``S3Storage.aopen(name)`` returns: streamed, ranged, bounded.

As the sync ``S3Reader``: opening sends one streaming ``GetObject`` (a missing
object raises ``FileNotFoundError`` at once) and reads no body until asked;
reads keep consuming that response; a ``seek`` elsewhere only moves the
position, and the next read opens a new stream there with a ``Range``. Objects
this backend gzipped are decompressed as they are read, and their size is the
original's. Memory stays at one network chunk whatever the size.
"""

from __future__ import annotations

import io
import zlib
from typing import TYPE_CHECKING, Any

from storages.aio import AsyncFile
from storages.backends.s3.aio_http import Elsewhere
from storages.backends.s3.files import GZIP_WBITS

if TYPE_CHECKING:
    from storages.backends.s3.aio_http import S3Transport


def head_fields(headers: Any) -> dict[str, Any]:
    """The parts of a GET/HEAD answer's headers the sync path reads, in botocore's shape."""
    metadata = {
        name[len("x-amz-meta-") :]: value
        for name, value in ((name.lower(), value) for name, value in headers.items())
        if name.startswith("x-amz-meta-")
    }
    fields: dict[str, Any] = {"Metadata": metadata}
    for header, field in (
        ("Content-Length", "ContentLength"),
        ("Content-Encoding", "ContentEncoding"),
        ("Content-Range", "ContentRange"),
        ("Content-Type", "ContentType"),
        ("Last-Modified", "LastModified"),
        ("ETag", "ETag"),
    ):
        value = headers.get(header)
        if value is not None:
            fields[field] = int(value) if field == "ContentLength" else value
    return fields


class S3AsyncReader(AsyncFile):
    """A read-only, seekable async view of one object."""

    def __init__(self, transport: S3Transport, key: str, name: str) -> None:
        super().__init__(name, "rb")
        self._transport = transport
        self.key = key
        self._pos = 0
        self._response: Any = None
        self._body_pos = 0
        self._size: int | None = None
        self._gunzip: Any = None
        self._gzipped = False
        self._pending = b""
        self.requests = 0
        self.content_type: str | None = None

    async def start(self) -> S3AsyncReader:
        """Send the first GET now: a missing object raises FileNotFoundError here."""
        await self._stream_from(0)
        return self

    async def read(self, n: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        if n is None or n < 0:
            pieces = []
            while piece := await self.read(self.chunk_size * 4):
                pieces.append(piece)
            return b"".join(pieces)
        if n == 0 or (self._size is not None and self._pos >= self._size):
            return b""
        if (self._response is None or self._body_pos != self._pos) and not await self._stream_from(
            self._pos
        ):
            return b""
        data = await self._next(n)
        self._pos += len(data)
        self._body_pos += len(data)
        if not data:
            self._size = self._pos if self._size is None else self._size
            self._drop()
        return data

    async def _next(self, n: int) -> bytes:
        """Up to ``n`` bytes of the open stream (decompressed for our gzip objects)."""
        from storages.backends.s3.errors import S3StorageError

        try:
            if self._gunzip is None:
                return await self._response.content.read(n)
            out = []
            got = 0
            while got < n:
                if not self._pending:
                    self._pending = await self._response.content.read(64 * 1024)
                    if not self._pending:
                        out.append(self._gunzip.flush())
                        break
                data = self._gunzip.decompress(self._pending, n - got)
                self._pending = self._gunzip.unconsumed_tail
                out.append(data)
                got += len(data)
                if self._gunzip.eof:
                    break
            return b"".join(out)
        except (OSError, ValueError, zlib.error) as exc:
            self._drop()
            raise S3StorageError(
                f"Could not read s3://{self._transport.bucket}/{self.key}: {type(exc).__name__}",
                bucket=self._transport.bucket,
                key=self.key,
            ) from None
        except BaseException:
            self._drop()
            raise

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._pos + offset
        elif whence == io.SEEK_END:
            position = await self.size() + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError(f"negative seek position {position}")
        self._pos = position
        return position

    def tell(self) -> int:
        return self._pos

    async def size(self) -> int:
        if self._size is None:
            from storages.backends.s3.files import stored_size

            try:
                answer = await self._transport.fetch(
                    "HEAD", self.key, operation="HeadObject", action="read the size of"
                )
            except Elsewhere as exc:  # the file is open: no other path now
                raise exc.error from None
            self.requests += 1
            self._size = stored_size(head_fields(answer.headers))
        return self._size

    async def close(self) -> None:
        self._drop()
        self.closed = True

    def _drop(self) -> None:
        response, self._response = self._response, None
        if response is not None:
            # Unread body: the connection cannot be reused, so it is closed.
            if response.content.at_eof():
                response.release()
            else:
                response.close()
        self._gunzip = None
        self._pending = b""

    async def _stream_from(self, position: int) -> bool:
        """Open a streaming GET at ``position``; False if that is past the end."""
        from storages.backends.s3.files import is_our_gzip, stored_size

        self._drop()
        headers = {"Range": f"bytes={position}-"} if position and not self._gzipped else {}
        try:
            response = await self._transport.open(
                "GET",
                self.key,
                operation="GetObject",
                action="read",
                headers=headers,
                ok=(200, 206),
            )
        except Elsewhere as exc:
            if not self.requests:
                raise  # the first request: aopen() hands the call to botocore
            raise exc.error from None
        except OSError as exc:
            if getattr(exc, "code", "") in ("InvalidRange", "416"):
                self._size = self._size if self._size is not None else position
                return False
            raise
        self.requests += 1
        fields = head_fields(response.headers)
        self.content_type = fields.get("ContentType")
        self._response = response
        self._body_pos = position
        if is_our_gzip(fields):
            self._gzipped = True
            self._size = stored_size(fields)
            self._gunzip = zlib.decompressobj(GZIP_WBITS)
            self._body_pos = 0
            while self._body_pos < position:  # the compressed stream has no ranges
                skipped = await self._next(min(position - self._body_pos, 256 * 1024))
                if not skipped:
                    break
                self._body_pos += len(skipped)
        else:
            if position and response.status == 200:  # the server sent it all: skip ahead
                self._body_pos = 0
                while self._body_pos < position:
                    skipped = await self._next(min(position - self._body_pos, 256 * 1024))
                    if not skipped:
                        break
                    self._body_pos += len(skipped)
                position = 0
            if self._size is None:
                self._size = _total_size(fields, position)
        return True


def _total_size(fields: dict[str, Any], position: int) -> int | None:
    content_range = fields.get("ContentRange") or ""
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = fields.get("ContentLength")
    return None if length is None else position + int(length)
