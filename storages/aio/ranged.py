"""The base of a native async reader: a stored file read piece by piece from a position.

Exists because Azure's and GCS's async readers differ only in how they get
the bytes at a position (a download stream from an offset; ranged GETs): the
size known when opened, ``seek``/``tell``, reads of ``n`` bytes assembled from
pieces and text decoded as UTF-8 across pieces are the same, so they are here.
"""

from __future__ import annotations

import codecs
import io

from storages.aio.files import AsyncFile


class RangedReadFile(AsyncFile):
    """A file of ``size`` bytes open for reading; subclasses give ``_piece(at, most)``."""

    def __init__(self, name: str, mode: str, size: int) -> None:
        super().__init__(name, mode)
        self._size = size
        self._pos = 0
        self._decoder = None if "b" in mode else codecs.getincrementaldecoder("utf-8")()

    async def size(self) -> int:
        return self._size

    def tell(self) -> int:
        return self._pos

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._pos:
            await self._moving()
            self._pos = position
        return self._pos

    async def _moving(self) -> None:
        """Drop what was read ahead that a read from another position cannot use."""

    async def _piece(self, at: int, most: int) -> bytes:
        """Up to ``most`` bytes from offset ``at`` (fewer is fine), or b"" at the end."""
        raise NotImplementedError

    async def read(self, n: int = -1) -> bytes | str:
        if self.closed:
            raise ValueError(f"I/O operation on closed file {self.name!r}.")
        wanted = self._size - self._pos if n is None or n < 0 else min(n, self._size - self._pos)
        parts: list[bytes] = []
        got = 0
        while got < wanted:
            piece = await self._piece(self._pos + got, wanted - got)
            if not piece:
                break
            parts.append(piece)
            got += len(piece)
        self._pos += got
        data = b"".join(parts)
        if self._decoder is None:
            return data
        return self._decoder.decode(data, final=self._pos >= self._size)


__all__ = ["RangedReadFile"]
