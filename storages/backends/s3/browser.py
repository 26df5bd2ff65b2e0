"""Uploads a browser sends straight to the bucket, signed here (``storages.uploads`` drives them).

Small files go in one ``POST`` whose policy the bucket enforces: that exact
key, that ``Content-Type``, at most the declared size. Larger ones are a
multipart upload created here; the browser gets one presigned ``UploadPart``
URL per part, each signed with the part's exact ``Content-Length``, so the
bucket refuses any part of another size (and so any file larger than
declared). Completing, aborting and listing the parts happen here, with the
storage's own credentials. Nothing is sent to learn an address: URLs are
computed locally by botocore.

The bucket must allow the site's origin (CORS): :meth:`allow_browser_uploads`.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Iterator
from typing import Any

MIB = 1024 * 1024
#: Files up to this size go in one POST; larger ones in parts.
SINGLE_POST_LIMIT = 8 * MIB
#: S3's smallest part (but the last) is 5 MiB; parts of 8 MiB keep requests few.
PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
#: The CORS rule this module writes carries this ID, so it can be replaced.
CORS_RULE_ID = "storages-browser-uploads"


def part_size_for(size: int, part_size: int = PART_SIZE) -> int:
    """The part size for ``size`` bytes: ``part_size``, or more to stay within 10,000 parts."""
    return max(part_size, math.ceil(size / MAX_PARTS))


def part_lengths(size: int, part_size: int) -> dict[int, int]:
    """``{part number: length}`` of a file of ``size`` bytes cut in ``part_size`` parts."""
    count = max(1, math.ceil(size / part_size))
    return {n: min(part_size, size - (n - 1) * part_size) for n in range(1, count + 1)}


#: Upload parameters a POST form takes as fields (what save() would send as headers).
POST_FIELDS = {
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
    "StorageClass": "x-amz-storage-class",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
    "Tagging": "tagging",
}


def post_fields(params: dict[str, Any]) -> dict[str, str] | None:
    """The POST form fields for these upload parameters; None if one has no field (then
    the file goes as a multipart upload, which takes every parameter)."""
    fields: dict[str, str] = {}
    for parameter, value in params.items():
        if parameter == "ACL":
            continue  # presigned_post adds the storage's default_acl itself
        if parameter == "Metadata" and isinstance(value, dict):
            fields.update({f"x-amz-meta-{key}": str(text) for key, text in value.items()})
        elif parameter in POST_FIELDS and isinstance(value, str):
            fields[POST_FIELDS[parameter]] = value
        else:
            return None
    return fields


class S3BrowserUploads:
    """The browser-upload methods of :class:`~storages.backends.s3.S3Storage`."""

    browser_single_limit = SINGLE_POST_LIMIT
    browser_part_size = PART_SIZE

    def browser_upload_start(
        self, name: str, *, size: int, content_type: str, expire: int, origin: str | None = None
    ) -> dict[str, Any]:
        """What the browser sends where, for ``name``: a POST form, or parts to PUT.

        ``size`` is the size the browser declared (already checked against the
        field's limit): the bucket refuses a larger file either way.
        """
        key = self._key(name)
        params = self._upload_parameters(name)
        params["ContentType"] = content_type
        if size <= self.browser_single_limit:
            fields = post_fields(params)
            if fields is not None:
                form = self.presigned_post(
                    name,
                    expire=expire,
                    max_size=size,
                    fields=fields,
                    conditions=[{field: value} for field, value in fields.items()],
                )
                return {"protocol": "post", "url": form["url"], "fields": form["fields"]}
        with self._errors(key, "start a browser upload of"):
            answer = self.connection.create_multipart_upload(
                Bucket=self.bucket_name, Key=key, **params
            )
        part_size = part_size_for(size, self.browser_part_size)
        return {"protocol": "parts", "upload": answer["UploadId"], "part_size": part_size}

    def browser_stored_parts(self, name: str, *, upload: str) -> dict[int, tuple[int, str]]:
        """``{part number: (size, ETag)}`` of the parts the store has (the last of each)."""
        key = self._key(name)
        parts: dict[int, tuple[int, str]] = {}
        paginator = self.connection.get_paginator("list_parts")
        with self._errors(key, "list the uploaded parts of"):
            pages = paginator.paginate(Bucket=self.bucket_name, Key=key, UploadId=upload)
            for page in pages:
                for part in page.get("Parts", ()):
                    # A part sent twice is listed twice by some servers: the later one counts.
                    parts[int(part["PartNumber"])] = (int(part["Size"]), part["ETag"])
        return parts

    def browser_part_urls(
        self, name: str, *, upload: str, lengths: dict[int, int], expire: int
    ) -> list[dict[str, Any]]:
        """One presigned ``UploadPart`` per ``{number: length}``, bound to that length."""
        key = self._key(name)
        urls = []
        with self._errors(key, "sign the part uploads of"):
            for number, length in sorted(lengths.items()):
                url = self.connection.generate_presigned_url(
                    "upload_part",
                    Params={
                        "Bucket": self.bucket_name,
                        "Key": key,
                        "UploadId": upload,
                        "PartNumber": number,
                        "ContentLength": length,
                    },
                    ExpiresIn=expire,
                )
                urls.append({"n": number, "url": url, "method": "PUT", "headers": {}})
        return urls

    def browser_upload_complete(
        self, name: str, *, upload: str, lengths: dict[int, int], content_type: str = ""
    ) -> None:
        """Join the parts into the object; ValueError (and nothing stored) if any is missing."""
        key = self._key(name)
        stored = self.browser_stored_parts(name, upload=upload)
        wrong = [n for n, length in lengths.items() if stored.get(n, (None,))[0] != length]
        if wrong or set(stored) - set(lengths):
            raise ValueError(f"parts missing or of the wrong size: {wrong[:5]}")
        parts = [{"PartNumber": n, "ETag": stored[n][1]} for n in sorted(lengths)]
        with self._errors(key, "complete the browser upload of"):
            self.connection.complete_multipart_upload(
                Bucket=self.bucket_name,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": parts},
            )

    def browser_upload_abort(self, name: str, *, upload: str) -> None:
        """Drop an unfinished upload and its parts (no error if it is gone already)."""
        key = self._key(name)
        if not upload:
            return
        try:
            with self._errors(key, "abort the browser upload of"):
                self.connection.abort_multipart_upload(
                    Bucket=self.bucket_name, Key=key, UploadId=upload
                )
        except FileNotFoundError:
            pass

    def browser_unfinished_uploads(
        self, prefix: str
    ) -> Iterator[tuple[str, str, datetime.datetime]]:
        """``(name, upload, started)`` of every multipart upload under ``prefix`` not finished."""
        start = self._key(prefix).rstrip("/") + "/" if prefix.strip("/") else ""
        if not start and self.location:
            start = self.location + "/"
        skip = len(self.location) + 1 if self.location else 0
        paginator = self.connection.get_paginator("list_multipart_uploads")
        with self._errors(start, "list the unfinished uploads under"):
            for page in paginator.paginate(Bucket=self.bucket_name, Prefix=start):
                for entry in page.get("Uploads", ()):
                    yield entry["Key"][skip:], entry["UploadId"], entry["Initiated"]

    def allow_browser_uploads(self, origins: Iterable[str], *, max_age: int = 3600) -> None:
        """Let pages from ``origins`` upload to the bucket (its CORS rule; others are kept)."""
        from botocore.exceptions import ClientError

        client = self.connection
        try:
            rules = client.get_bucket_cors(Bucket=self.bucket_name).get("CORSRules", [])
        except ClientError:  # NoSuchCORSConfiguration: none yet
            rules = []
        rules = [rule for rule in rules if rule.get("ID") != CORS_RULE_ID]
        rules.append(
            {
                "ID": CORS_RULE_ID,
                "AllowedOrigins": list(origins),
                "AllowedMethods": ["POST", "PUT"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": int(max_age),
            }
        )
        with self._errors("", "set the CORS rules of"):
            client.put_bucket_cors(Bucket=self.bucket_name, CORSConfiguration={"CORSRules": rules})


__all__ = ["S3BrowserUploads", "part_lengths", "part_size_for"]
