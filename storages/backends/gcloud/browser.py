"""Uploads a browser sends straight to the bucket (for ``storages.uploads``): resumable sessions.

The server opens a resumable upload session with the storage's credentials,
for that one object name, its content type and the declared size (GCS keeps
the session to that total), create-only, and bound to the page's origin (GCS
then answers that origin's CORS requests for the session itself). The
session URI is the browser's capability: it sends the file in 8 MiB chunks
(``Content-Range``), one after the other; after a dropped connection it asks
the session how much arrived and goes on from there.

Sessions cannot be listed: an abandoned one expires after a week by itself,
and ``storage_abandoned`` only sees files that were finished but never
submitted.
"""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024
#: Chunks must be multiples of 256 KiB (but the last).
CHUNK_SIZE = 8 * MIB


class GoogleCloudBrowserUploads:
    """The browser-upload methods of :class:`~storages.backends.gcloud.GoogleCloudStorage`."""

    browser_chunk_size = CHUNK_SIZE

    def browser_upload_start(
        self, name: str, *, size: int, content_type: str, expire: int, origin: str | None = None
    ) -> dict[str, Any]:
        """A resumable session for ``name``: ``{"protocol": "session", "url", "part_size"}``."""
        key = self._key(name)
        blob, acl = self._new_blob(key, name)
        blob.content_type = content_type
        with self._errors(key, "start a browser upload of"):
            url = blob.create_resumable_upload_session(
                content_type=content_type,
                size=size,
                origin=origin,
                checksum=None,  # the browser sends the bytes; nothing to hash here
                predefined_acl=acl,
                if_generation_match=0,  # create-only: never replaces a file
                **self._retry(),
            )
        return {"protocol": "session", "url": url, "upload": url, "part_size": CHUNK_SIZE}

    def browser_upload_abort(self, name: str, *, upload: str) -> None:
        """Cancel a session (GCS answers 499); a finished or expired one is left as it is."""
        self._key(name)
        if upload:
            self.client._http.delete(upload, timeout=30)


__all__ = ["GoogleCloudBrowserUploads"]
