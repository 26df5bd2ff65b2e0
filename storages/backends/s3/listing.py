"""One fast, paginated listing of every object under a prefix (for collectstatic).

botocore's XML parser costs about 0.2 ms per entry, which dominates a listing
of thousands of static files; the pages are taken from botocore before it
parses them and read here instead.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

Entry = tuple[str, int, datetime.datetime, str]

_raw_listing = threading.local()
_EMPTY_LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ListBucketResult>'
)


def _keep_listing_body(response_dict: dict[str, Any], **kwargs: Any) -> None:
    """Take a listing page's XML away from botocore's (slow) parser for list_objects()."""
    bodies = getattr(_raw_listing, "bodies", None)
    if bodies is not None and response_dict.get("status_code") == 200:
        bodies.append(response_dict["body"])
        response_dict["body"] = _EMPTY_LISTING


def parse_listing(body: bytes) -> tuple[list[Entry], str | None]:
    """A ListObjectsV2 page: ``([(key, size, modified, etag)], next continuation token)``."""
    from urllib.parse import unquote_plus
    from xml.etree import ElementTree

    root = ElementTree.fromstring(body)  # noqa: S314 - the S3 server we talk to, as botocore
    if root.tag.rpartition("}")[2] != "ListBucketResult":
        # An error document inside a 200 answer: never read as an empty listing.
        raise OSError(
            f"S3 answered a listing with {root.findtext('Code') or root.tag!r}: "
            f"{root.findtext('Message') or ''}"
        )
    fields: dict[str, str] = {}
    entries = []
    for child in root:
        tag = child.tag.rpartition("}")[2]
        if tag != "Contents":
            fields[tag] = child.text or ""
            continue
        entry = {item.tag.rpartition("}")[2]: item.text or "" for item in child}
        modified = datetime.datetime.fromisoformat(entry["LastModified"].replace("Z", "+00:00"))
        entries.append((entry["Key"], int(entry["Size"]), modified, entry.get("ETag", "")))
    if fields.get("EncodingType") == "url":
        entries = [(unquote_plus(key), *rest) for key, *rest in entries]
    truncated = fields.get("IsTruncated", "false").lower() == "true"
    return entries, (fields.get("NextContinuationToken") or None) if truncated else None


def list_objects(
    client: Any,
    bucket: str,
    prefix: str,
    errors: Callable[[str, str], AbstractContextManager[Any]],
) -> Iterator[Entry]:
    """``(key without prefix, size, modified, etag)`` of every object under ``prefix``."""
    # First: botocore's own first handler would otherwise parse each page once more,
    # looking for an error document inside a 200 (parse_listing refuses those itself).
    client.meta.events.register_first(
        "before-parse.s3.ListObjectsV2", _keep_listing_body, unique_id="storages-listing"
    )
    token = None
    while True:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "EncodingType": "url"}
        if token:
            params["ContinuationToken"] = token
        _raw_listing.bodies = bodies = []
        try:
            with errors(prefix, "list"):
                answer = client.list_objects_v2(**params)
        finally:
            _raw_listing.bodies = None
        if bodies:
            entries, token = parse_listing(bodies[-1])
        else:  # the hook did not run: botocore parsed the page
            entries = [
                (e["Key"], e["Size"], e["LastModified"], e.get("ETag", ""))
                for e in answer.get("Contents", ())
            ]
            token = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None
        for key, size, modified, etag in entries:
            name = key[len(prefix) :]
            if name and not name.endswith("/"):
                yield name, size, modified, etag
        if not token:
            return
