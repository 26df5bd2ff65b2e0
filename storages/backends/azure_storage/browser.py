"""Uploads a browser sends straight to the container, signed here (for ``storages.uploads``).

The browser gets a short-lived service SAS that allows writing that one blob
name and nothing else, and stages the file as blocks (``Put Block``). The
block list is committed here, with the storage's own credentials, only when
the staged blocks are exactly the declared parts: a block of another size,
an extra block or a missing one, and nothing is committed. (A SAS cannot
bound a size: a browser holding it could also ``Put Blob`` a larger file
itself; the check on submit refuses any blob whose size is not the declared
one, and ``storage_abandoned`` finds what nobody committed.)

The account must allow the site's origin (CORS): :meth:`allow_browser_uploads`.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from storages.backends.azure_storage.errors import TAKEN_CODES, AzureStorageError

MIB = 1024 * 1024
#: Block size the browser cuts files into (Azure allows up to 4000 MiB, 50,000 blocks).
BLOCK_SIZE = 8 * MIB
MAX_BLOCKS = 50_000


def raw_block_id(number: int) -> str:
    """Part ``number``'s block ID before base64 (every ID the same length, as Azure requires)."""
    return f"storages-part-{number:06d}"


def block_id(number: int) -> str:
    """The block ID of part ``number`` as the REST API takes it (the SDK encodes it itself)."""
    return base64.b64encode(raw_block_id(number).encode()).decode()


def part_number(block: str) -> int | None:
    """The part number of a block ID :func:`block_id` made (decoded or not), else None."""
    for text in (block, _b64decode(block)):
        if text and text.startswith("storages-part-") and text[14:].isdigit():
            return int(text[14:])
    return None


def _b64decode(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode()
    except ValueError:
        return None


class AzureBrowserUploads:
    """The browser-upload methods of :class:`~storages.backends.azure_storage.AzureStorage`."""

    browser_block_size = BLOCK_SIZE

    def _blob_url(self, blob: str) -> str:
        return f"{self.url_base()}/{quote(blob, safe='/~')}"

    def browser_upload_start(
        self, name: str, *, size: int, content_type: str, expire: int, origin: str | None = None
    ) -> dict[str, Any]:
        """Blocks to stage: the browser asks for their URLs with :meth:`browser_part_urls`."""
        self._blob(name)  # refuse unsafe names before signing anything
        part_size = max(self.browser_block_size, -(-size // MAX_BLOCKS))
        return {"protocol": "parts", "upload": "", "part_size": part_size}

    def browser_stored_parts(self, name: str, *, upload: str) -> dict[int, tuple[int, str]]:
        """``{part number: (size, block ID)}`` of the blocks staged and not yet committed."""
        blob = self._blob(name)
        try:
            with self._errors(blob, "list the staged blocks of"):
                _, uncommitted = self.client.get_blob_client(blob).get_block_list("uncommitted")
        except FileNotFoundError:  # nothing staged yet
            return {}
        parts = {}
        for block in uncommitted:
            number = part_number(block.id)
            if number is not None:
                parts[number] = (int(block.size), block.id)
        return parts

    def browser_part_urls(
        self, name: str, *, upload: str, lengths: dict[int, int], expire: int
    ) -> list[dict[str, Any]]:
        """A ``Put Block`` URL per part, on a SAS that may only write this blob."""
        blob = self._blob(name)
        base = f"{self._blob_url(blob)}?{self.blob_sas(blob, expire, None, 'w')}"
        return [
            {
                "n": number,
                "url": f"{base}&comp=block&blockid={quote(block_id(number), safe='')}",
                "method": "PUT",
                "headers": {},
            }
            for number in sorted(lengths)
        ]

    def browser_upload_complete(
        self, name: str, *, upload: str, lengths: dict[int, int], content_type: str = ""
    ) -> None:
        """Commit the staged blocks; ValueError (nothing committed) unless they are the parts."""
        from azure.storage.blob import BlobBlock

        blob = self._blob(name)
        stored = self.browser_stored_parts(name, upload=upload)
        wrong = [n for n, length in lengths.items() if stored.get(n, (None,))[0] != length]
        if wrong or set(stored) - set(lengths):
            raise ValueError(f"blocks missing or of the wrong size: {wrong[:5]}")
        settings = self._get_content_settings_parameters(name)
        if content_type:
            settings["content_type"] = content_type
        from azure.storage.blob import ContentSettings

        with self._errors(blob, "commit the browser upload of"):
            self.client.get_blob_client(blob).commit_block_list(
                [BlobBlock(block_id=raw_block_id(n)) for n in sorted(lengths)],
                content_settings=ContentSettings(**settings),
                if_none_match="*",
            )

    def browser_upload_abort(self, name: str, *, upload: str) -> None:
        """Discard the staged blocks of a blob nobody committed (a committed blob is kept).

        Azure drops uncommitted blocks after a week by itself; to drop them now,
        an empty block list is committed (create-only) and that empty blob deleted.
        """
        blob = self._blob(name)
        client = self.client.get_blob_client(blob)
        try:
            with self._errors(blob, "discard the staged blocks of"):
                client.commit_block_list([], if_none_match="*")
        except AzureStorageError as exc:
            if exc.code in TAKEN_CODES:
                return  # committed meanwhile: a file, not ours to drop here
            raise
        with self._errors(blob, "discard the staged blocks of"):
            client.delete_blob()

    def browser_unfinished_uploads(
        self, prefix: str
    ) -> Iterator[tuple[str, str, datetime.datetime]]:
        """``(name, "", staged at)`` of blobs under ``prefix`` with blocks and no commit."""
        start = self._prefix(prefix)
        skip = len(self.location) + 1 if self.location else 0
        with self._errors(start, "list the unfinished uploads under"):
            for entry in self.client.list_blobs(
                name_starts_with=start, include=["uncommittedblobs"]
            ):
                # A blob that exists only as staged blocks has no content settings yet.
                if entry.size == 0 and entry.content_settings.content_type is None:
                    yield entry.name[skip:], "", entry.creation_time or entry.last_modified

    def allow_browser_uploads(self, origins: Iterable[str], *, max_age: int = 3600) -> None:
        """Let pages from ``origins`` stage blocks (the account's CORS rules; others kept)."""
        from azure.storage.blob import CorsRule

        origins = list(origins)
        with self._errors("", "set the CORS rules of"):
            current = self.service_client.get_service_properties().get("cors") or []
            rules = [
                rule
                for rule in current
                if sorted(rule.allowed_origins.split(",")) != sorted(origins)
            ]
            rules.append(
                CorsRule(
                    origins,
                    ["PUT", "OPTIONS"],
                    allowed_headers=["*"],
                    exposed_headers=["etag"],
                    max_age_in_seconds=int(max_age),
                )
            )
            self.service_client.set_service_properties(cors=rules[-5:])


__all__ = ["AzureBrowserUploads", "block_id", "part_number"]
