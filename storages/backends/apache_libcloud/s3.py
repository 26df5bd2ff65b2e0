"""What this backend does itself on Libcloud's S3-API drivers (S3, MinIO, Ceph RGW, ...).

Through the driver's own signed connection, so credentials, regions and
endpoints stay the driver's:

* listings with a delimiter (Libcloud lists every key under a prefix), and the
  workaround for Libcloud 3.x's SigV4 signer, which adds ``Version=2006-03-01``
  to every GET: S3 ignores it, SeaweedFS refuses bucket listings carrying it
  with 501. :func:`fix_listing_version` drops it from bucket-level GETs only;
* create-only writes: ``If-None-Match: *`` on the single PUT of a small file and
  on the CompleteMultipartUpload of a big one (AWS S3, SeaweedFS, MinIO and Ceph
  RGW refuse with 412 when the name is taken);
* one HEAD per object lookup (the driver's ``get_object`` HEADs the bucket too);
* presigned URLs whose signature covers the port: Libcloud's
  ``get_object_cdn_url`` signs ``host`` without it, which any endpoint on a
  non-default port (``http://127.0.0.1:8333``) refuses with 403.
"""

from __future__ import annotations

import contextlib
import datetime
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from storages.backends.apache_libcloud.errors import status_of

#: Libcloud's S3 part size; a file up to this size goes in one PUT.
PART_SIZE = 5 * 1024 * 1024
PAGE_SIZE = 1000
#: Statuses a request is retried on (as boto3 retries them), and the waits between tries.
RETRIED_STATUSES = frozenset((500, 502, 503, 504))
RETRY_WAITS = (0.05, 0.2, 0.5)


def request(driver: Any, path: str, **kwargs: Any) -> Any:
    """``driver.connection.request``, retried on a transient server error.

    SeaweedFS answers 500 to the first writes into a bucket it is still
    setting up; S3 asks clients to retry 500 and 503. Every request sent
    here can be repeated (its body is bytes).
    """
    from libcloud.common.types import LibcloudError

    for wait in (*RETRY_WAITS, None):
        try:
            # Fresh dicts per try: the connection adds its signature headers to them.
            fresh = {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()}
            response = driver.connection.request(path, **fresh)
        except LibcloudError as exc:
            if wait is None or status_of(str(exc.value)) not in RETRIED_STATUSES:
                raise
        else:
            if wait is None or response.status not in RETRIED_STATUSES:
                return response
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def is_s3_api(driver: Any) -> bool:
    from libcloud.storage.drivers.s3 import BaseS3StorageDriver

    return isinstance(driver, BaseS3StorageDriver)


def signs_v4(driver: Any) -> bool:
    from libcloud.common.aws import AWSRequestSignerAlgorithmV4

    return isinstance(getattr(driver.connection, "signer", None), AWSRequestSignerAlgorithmV4)


def uses_s3_multipart(driver: Any) -> bool:
    return is_s3_api(driver) and bool(getattr(driver, "supports_s3_multipart_upload", False))


def default_port(secure: bool) -> int:
    return 443 if secure else 80


def fix_listing_version(driver: Any) -> None:
    """Stop the SigV4 signer adding ``Version`` to bucket-level GETs (listings).

    Object GETs keep it (servers accept it there); other signers are left alone.
    Idempotent; the parameter is dropped before the request is signed.
    """
    if not signs_v4(driver):
        return
    signer = driver.connection.signer
    if getattr(signer, "_storages_listing_fix", False):
        return
    original = signer.get_request_params

    def get_request_params(params: dict, method: str = "GET", path: str = "/") -> dict:
        params = original(params, method=method, path=path)
        if method == "GET" and "/" not in path.strip("/"):
            params.pop("Version", None)
        return params

    signer.get_request_params = get_request_params
    signer._storages_listing_fix = True


def _findall(element: Any, tag: str, namespace: str) -> list[Any]:
    from libcloud.utils.xml import fixxpath

    return element.findall(fixxpath(xpath=tag, namespace=namespace))


def _findtext(element: Any, tag: str, namespace: str) -> str | None:
    from libcloud.utils.xml import fixxpath

    return element.findtext(fixxpath(xpath=tag, namespace=namespace))


def list_keys(
    driver: Any, container: Any, prefix: str, *, delimiter: str | None = "/", limit: int = 0
) -> Iterator[tuple[str, str]]:
    """``("file", key)`` and ``("dir", prefix)`` under ``prefix``, one page at a time."""
    from libcloud.common.types import LibcloudError

    fix_listing_version(driver)
    path = driver._get_container_path(container)
    namespace = driver.namespace
    params: dict[str, Any] = {"prefix": prefix, "max-keys": min(limit or PAGE_SIZE, PAGE_SIZE)}
    if delimiter:
        params["delimiter"] = delimiter
    given = 0
    while True:
        response = request(driver, path, params=params)
        if response.status != 200:
            raise LibcloudError(f"Unexpected status code: {response.status}", driver=driver)
        body = response.object
        last = None
        for element in _findall(body, "Contents", namespace):
            last = _findtext(element, "Key", namespace) or ""
            given += 1
            yield "file", last
        for element in _findall(body, "CommonPrefixes", namespace):
            last = max(last or "", _findtext(element, "Prefix", namespace) or "")
            given += 1
            yield "dir", _findtext(element, "Prefix", namespace) or ""
        truncated = (_findtext(body, "IsTruncated", namespace) or "false").lower() == "true"
        if not truncated or (limit and given >= limit):
            return
        marker = _findtext(body, "NextMarker", namespace) or last
        if not marker:
            return
        params["marker"] = marker


def head_object(driver: Any, container: Any, key: str) -> Any:
    """The object ``key`` from one HEAD request (``ObjectDoesNotExistError`` if missing)."""
    from libcloud.common.types import LibcloudError
    from libcloud.storage.types import ObjectDoesNotExistError

    response = request(driver, driver._get_object_path(container, key), method="HEAD")
    if response.status == 200:
        return driver._headers_to_object(
            object_name=key, container=container, headers=response.headers
        )
    if response.status == 404:
        raise ObjectDoesNotExistError(value=None, driver=driver, object_name=key)
    raise LibcloudError(f"Unexpected status code: {response.status}", driver=driver)


def _expect_ok(driver: Any, response: Any, what: str) -> None:
    from libcloud.common.types import LibcloudError

    if response.status != 200:
        raise LibcloudError(f"{what}: unexpected status code: {response.status}", driver=driver)


def put_object(driver: Any, container: Any, key: str, data: bytes, headers: dict[str, str]) -> None:
    """One PUT of ``data`` (a 412 to a create-only PUT is a ``LibcloudError``)."""
    response = request(
        driver,
        driver._get_object_path(container, key),
        method="PUT",
        data=data,
        headers={**headers, "Content-Length": str(len(data))},
    )
    _expect_ok(driver, response, "PUT")


def multipart_upload(
    driver: Any,
    container: Any,
    key: str,
    chunks: Iterator[bytes],
    headers: dict[str, str],
    commit_headers: dict[str, str],
) -> None:
    """Libcloud's multipart parts, then our commit (with ``commit_headers``); aborted
    on any failure, so nothing is left under ``key``."""
    upload_id = driver._initiate_multipart(container, key, headers=headers)
    try:
        parts, _hash, _size = driver._upload_multipart_chunks(
            container, key, upload_id, chunks, calculate_hash=False
        )
        _commit(driver, container, key, upload_id, parts, commit_headers)
    except BaseException:
        # The first failure is the one to report.
        with contextlib.suppress(Exception):
            driver._abort_multipart(container, key, upload_id)
        raise


def _commit(
    driver: Any,
    container: Any,
    key: str,
    upload_id: str,
    parts: list[tuple[int, str]],
    headers: dict[str, str],
) -> None:
    from xml.etree.ElementTree import Element, SubElement, tostring

    from libcloud.common.types import LibcloudError

    root = Element("CompleteMultipartUpload")
    for number, etag in parts:
        part = SubElement(root, "Part")
        SubElement(part, "PartNumber").text = str(number)
        SubElement(part, "ETag").text = str(etag)
    data = tostring(root)
    response = request(
        driver,
        driver._get_object_path(container, key),
        method="POST",
        params={"uploadId": upload_id},
        data=data,
        headers={**headers, "Content-Length": str(len(data))},
    )
    _expect_ok(driver, response, "CompleteMultipartUpload")
    # S3 may answer 200 and put the error in the body.
    if str(getattr(response.object, "tag", "")).rpartition("}")[2] == "Error":
        raise LibcloudError(response.body, driver=driver)


def presigned_url(driver: Any, obj: Any, expiry_hours: float | None = None) -> str:
    """``get_object_cdn_url``, signed over ``host:port`` when the port is not the default."""
    from libcloud.common.aws import UnsignedPayloadSentinel
    from libcloud.storage.drivers import s3

    hours = s3.S3_CDN_URL_EXPIRY_HOURS if expiry_hours is None else expiry_hours
    connection = driver.connection
    port = int(connection.port or default_port(connection.secure))
    if port == default_port(connection.secure) or not signs_v4(driver):
        return driver.get_object_cdn_url(obj, ex_expiry=hours)
    # The same presigned GET, with the Host header a client sends to this port.
    host = f"{connection.host}:{port}"
    path = driver._get_object_path(obj.container, obj.name)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    scope = (now.strftime("%Y%m%d"), driver.region_name, "s3", "aws4_request")
    params: dict[str, Any] = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "/".join((driver.key, *scope)),
        "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
        "X-Amz-Expires": int(hours * 3600),
        "X-Amz-SignedHeaders": "host",
    }
    params["X-Amz-Signature"] = connection.signer._get_signature(
        params=params,
        headers={"host": host},
        dt=now,
        method="GET",
        path=path,
        data=UnsignedPayloadSentinel,
    )
    scheme = "https" if connection.secure else "http"
    return f"{scheme}://{host}{path}?{urlencode(params)}"


def plain_url(driver: Any, container: Any, key: str) -> str:
    """The path-style URL of an object (public-read buckets), from the driver's endpoint."""
    connection = driver.connection
    port = int(connection.port or default_port(connection.secure))
    host = connection.host
    if port != default_port(connection.secure):
        host = f"{host}:{port}"
    scheme = "https" if connection.secure else "http"
    return f"{scheme}://{host}{driver._get_object_path(container, key)}"
