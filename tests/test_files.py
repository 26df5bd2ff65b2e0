"""The streaming file objects shared by the remote backends (storages.files).

The readers run over real sources: a file on disk opened at an offset, and
generators of chunks that can fail mid-way like a dropped connection.
"""

from __future__ import annotations

import io
import os
import tracemalloc

import pytest

from storages.files import (
    ChunkReader,
    ReadFile,
    Source,
    SpooledWriteFile,
    StreamReader,
    Window,
    is_write_mode,
    require_read_or_write_mode,
)

PAYLOAD = bytes(range(256)) * 1000  # 256,000 bytes, every offset distinguishable


@pytest.fixture
def on_disk(tmp_path):
    """(open_at, opened offsets, size) over a real file; streams are closed by the reader."""
    path = tmp_path / "content.bin"
    path.write_bytes(PAYLOAD)
    offsets: list[int] = []

    def open_at(position: int):
        offsets.append(position)
        handle = open(path, "rb")  # noqa: SIM115 - the reader closes it
        handle.seek(position)
        return handle

    return open_at, offsets, len(PAYLOAD)


def chunks_from(data: bytes, chunk: int = 1000):
    def fetch(position: int):
        for start in range(position, len(data), chunk):
            yield data[start : start + chunk]

    return fetch


class TestStreamReader:
    def test_opens_lazily_once_for_a_sequential_read(self, on_disk):
        open_at, offsets, size = on_disk
        reader = StreamReader(open_at, size)
        assert offsets == []
        assert reader.read(10) == PAYLOAD[:10]
        assert reader.read() == PAYLOAD[10:]
        assert reader.read(10) == b""
        assert offsets == [0]
        assert reader.tell() == size

    def test_seek_reopens_at_the_new_place_only_when_it_moves(self, on_disk):
        open_at, offsets, size = on_disk
        reader = StreamReader(open_at, size)
        assert reader.read(5) == PAYLOAD[:5]
        assert reader.seek(5) == 5  # where it already is: the stream stays
        assert reader.seek(1000) == 1000
        assert reader.read(3) == PAYLOAD[1000:1003]
        assert reader.seek(-3, io.SEEK_CUR) == 1000
        assert reader.read(3) == PAYLOAD[1000:1003]
        assert reader.seek(-4, io.SEEK_END) == size - 4
        assert reader.read() == PAYLOAD[-4:]
        assert offsets == [0, 1000, 1000, size - 4]

    def test_seek_past_the_end_reads_nothing(self, on_disk):
        open_at, offsets, size = on_disk
        reader = StreamReader(open_at, size)
        reader.seek(size + 10)
        assert reader.read(10) == b""
        assert offsets == []

    def test_stops_at_the_size_even_if_the_stream_goes_on(self, on_disk):
        open_at, _offsets, _size = on_disk
        reader = StreamReader(open_at, 100)
        assert reader.read() == PAYLOAD[:100]

    def test_bad_seeks_are_value_errors(self, on_disk):
        open_at, _offsets, size = on_disk
        reader = StreamReader(open_at, size)
        with pytest.raises(ValueError, match="negative"):
            reader.seek(-1)
        with pytest.raises(ValueError, match="whence"):
            reader.seek(0, 7)

    def test_close_closes_the_open_stream(self, on_disk):
        open_at, _offsets, size = on_disk
        opened = []
        reader = StreamReader(lambda position: opened.append(open_at(position)) or opened[-1], size)
        reader.read(1)
        reader.close()
        assert opened[0].closed
        assert reader.closed


class TestChunkReader:
    def test_reads_and_seeks_over_chunks(self):
        starts: list[int] = []
        fetch = chunks_from(PAYLOAD)

        def recording(position: int):
            starts.append(position)
            return fetch(position)

        reader = ChunkReader(recording, len(PAYLOAD))
        assert reader.read(1500) == PAYLOAD[:1000]  # one chunk at a time (a raw read)
        buffered = io.BufferedReader(reader, buffer_size=4096)
        assert buffered.read(600) == PAYLOAD[1000:1600]
        buffered.seek(200_000)
        assert buffered.read() == PAYLOAD[200_000:]
        assert starts == [0, 200_000]

    def test_a_dropped_connection_continues_where_it_stopped(self):
        failures = [1000, 5000]  # each fetch fails once after its first chunk

        def fetch(position: int):
            yield PAYLOAD[position : position + 1000]
            if failures:
                failures.pop(0)
                raise ConnectionResetError("peer went away")
            yield from chunks_from(PAYLOAD)(position + 1000)

        reader = io.BufferedReader(ChunkReader(fetch, len(PAYLOAD)), buffer_size=4096)
        assert reader.read() == PAYLOAD

    def test_gives_up_after_the_reopen_attempts(self):
        def fetch(position: int):
            raise OSError("unreachable")
            yield b""  # pragma: no cover - a generator that fails on first next()

        reader = ChunkReader(fetch, 10, reopen_attempts=2)
        with pytest.raises(OSError, match="reading stopped at byte 0: unreachable"):
            reader.read(10)

    def test_a_short_body_is_an_error(self):
        reader = ChunkReader(chunks_from(PAYLOAD[:50]), 100)
        assert reader.read(100) == PAYLOAD[:50]
        with pytest.raises(OSError, match="ended at byte 50 of 100"):
            reader.read(100)


class TestReadFile:
    def test_binary_and_text_reads_size_and_chunks(self, on_disk):
        open_at, _offsets, size = on_disk
        handle = ReadFile("a.bin", "rb", lambda: (StreamReader(open_at, size), size))
        assert handle.size == size
        assert handle.readable() and not handle.writable()
        assert b"".join(handle.chunks(chunk_size=7000)) == PAYLOAD
        handle.close()

        text = "line one\r\nline two\nünï\n".encode()
        handle = ReadFile(
            "t.txt",
            "r",
            lambda: (StreamReader(lambda p: io.BytesIO(text[p:]), len(text)), len(text)),
        )
        assert handle.read() == "line one\nline two\nünï\n"

    def test_reopen_after_close_runs_the_opener_again_in_any_read_mode(self, on_disk):
        open_at, _offsets, size = on_disk
        calls = []

        def opener():
            calls.append(1)
            return StreamReader(open_at, size), size

        handle = ReadFile("a.bin", "rb", opener)
        handle.read(10)
        assert handle.open() is handle  # open: rewinds
        assert handle.read(3) == PAYLOAD[:3]
        handle.close()
        with handle.open("rb"):
            assert handle.read(3) == PAYLOAD[:3]
        assert len(calls) == 2
        with pytest.raises(ValueError, match="opened for reading"):
            handle.open("wb")

    @pytest.mark.parametrize("mode", ["a", "ab", "r+", "rb+"])
    def test_updating_modes_are_refused(self, mode):
        with pytest.raises(ValueError, match="not supported"):
            ReadFile("a.bin", mode, lambda: (StreamReader(io.BytesIO, 0), 0))

    def test_memory_stays_bounded_for_a_large_file(self, tmp_path):
        size = 64 * 1024 * 1024
        path = tmp_path / "large.bin"
        with open(path, "wb") as out:
            for _ in range(size // len(PAYLOAD) + 1):
                out.write(PAYLOAD)

        def open_at(position: int):
            handle = open(path, "rb")  # noqa: SIM115 - the reader closes it
            handle.seek(position)
            return handle

        tracemalloc.start()
        try:
            with ReadFile("large.bin", "rb", lambda: (StreamReader(open_at, size), size)) as f:
                total = sum(len(chunk) for chunk in f.chunks())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert total == size
        assert peak < 4 * 1024 * 1024


class TestSpooledWriteFile:
    def collector(self):
        uploads: list[bytes] = []

        def upload(spool):
            assert spool.tell() == 0
            uploads.append(spool.read())

        return uploads, upload

    def test_text_and_binary_writes_upload_once_on_close(self):
        uploads, upload = self.collector()
        with SpooledWriteFile("t.txt", "w", upload) as handle:
            assert handle.writable() and not handle.readable()
            handle.write("one\r\ntwo\nünï")
            assert handle.size == len("one\r\ntwo\nünï".encode())
            assert uploads == []
        handle.close()  # a second close stores nothing more
        assert uploads == ["one\r\ntwo\nünï".encode()]

        with SpooledWriteFile("b.bin", "wb", upload) as handle:
            handle.write(b"\x00\xff")
        assert uploads[-1] == b"\x00\xff"

    def test_large_writes_spill_to_disk(self):
        uploads, upload = self.collector()
        handle = SpooledWriteFile("b.bin", "wb", upload, max_memory_size=1024)
        handle.write(b"x" * 1000)
        assert not handle._spool._rolled
        handle.write(b"x" * 1000)
        assert handle._spool._rolled
        handle.close()
        assert uploads == [b"x" * 2000]

    def test_abort_and_abandon_store_nothing(self):
        uploads, upload = self.collector()
        handle = SpooledWriteFile("b.bin", "wb", upload)
        handle.write(b"half")
        handle.abort()
        assert handle.closed
        handle.close()
        abandoned = SpooledWriteFile("c.bin", "w", upload)
        abandoned.write("half")
        del abandoned
        assert uploads == []

    def test_a_failed_upload_is_raised_and_the_file_is_closed(self):
        def upload(spool):
            raise OSError("store refused")

        handle = SpooledWriteFile("b.bin", "wb", upload)
        handle.write(b"data")
        with pytest.raises(OSError, match="store refused"):
            handle.close()
        assert handle.closed
        handle.close()

    def test_reopen_rewinds_an_open_file_and_refuses_a_closed_one(self):
        uploads, upload = self.collector()
        handle = SpooledWriteFile("b.bin", "wb", upload)
        handle.write(b"first")
        handle.open()
        handle.write(b"FI")
        handle.close()
        assert uploads == [b"FIrst"]
        with pytest.raises(ValueError, match=r"reopened with storage\.open\(\)"):
            handle.open("wb")

    @pytest.mark.parametrize("mode", ["a", "wb+", "w+"])
    def test_updating_modes_are_refused(self, mode):
        with pytest.raises(ValueError, match="not supported"):
            SpooledWriteFile("b.bin", mode, lambda spool: None)


def test_modes():
    assert [is_write_mode(m) for m in ("r", "rb", "w", "wb", "x", "a", "r+")] == [
        False,
        False,
        True,
        True,
        True,
        True,
        True,
    ]
    for mode in ("r", "rb", "rt", "w", "wb", "wt"):
        require_read_or_write_mode("a", mode)
    for mode in ("x", "a", "r+", "rw", "b", ""):
        with pytest.raises(ValueError, match="Unsupported mode"):
            require_read_or_write_mode("a", mode)


class TestSource:
    def test_seekable_bytes_are_used_as_they_are(self, tmp_path):
        path = tmp_path / "f.bin"
        path.write_bytes(PAYLOAD)
        with open(path, "rb") as content:
            content.read(10)
            with Source(content) as source:
                assert source.stream is content
                assert source.size == len(PAYLOAD)
                assert source.stream.tell() == 0

    def test_text_and_unseekable_content_is_spooled(self):
        with Source(io.StringIO("ünï")) as source:
            assert source.size == len("ünï".encode())
            assert source.stream.read() == "ünï".encode()

        read_end, write_end = os.pipe()
        os.write(write_end, b"piped")
        os.close(write_end)
        with open(read_end, "rb") as pipe, Source(pipe) as source:
            assert source.size == 5
            assert source.stream.read() == b"piped"

    def test_window_is_a_seekable_slice(self):
        stream = io.BytesIO(PAYLOAD)
        window = Window(stream, 1000, 300)
        assert len(window) == 300
        assert window.read(10) == PAYLOAD[1000:1010]
        assert window.read() == PAYLOAD[1010:1300]
        assert window.read() == b""
        window.seek(-5, os.SEEK_END)
        assert window.read() == PAYLOAD[1295:1300]
        window.seek(0)
        assert window.read(1000) == PAYLOAD[1000:1300]
