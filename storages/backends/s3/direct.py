"""Small uploads without botocore's per-request machinery.

botocore spends about 1.2 ms of CPU on each ``PutObject`` (event handlers,
endpoint rules, parameter validation, checksums, response parsing). On a small
machine that, not the network, bounds collectstatic's thousands of small files.
For a single-request upload whose parameters are all plain headers, the request
is signed here (SigV4 over the body's SHA-256; Content-MD5 as well; the server
checks both) and sent through the client's own HTTP session, so proxies, TLS
verification, client certificates, timeouts and the connection pool are exactly
botocore's: about a third of the CPU. The address and signing region are the
ones botocore would use for that upload, worked out locally from a presigned
upload URL (see :func:`botocore_put_target`): no request is sent to learn them.

Only two answers are final here: 200 (stored) and 412 on a conditional create
(the name is taken). Anything else (an error, a redirect to another region, a
dropped connection, a signature the server does not accept) returns ``False``
and the caller sends the same upload through botocore, which retries, follows
redirects and reports errors as usual; after a run of such answers the direct
path turns itself off. Parameters that botocore transforms (customer-provided
keys, ``Expires`` dates, explicit checksums, ...) always go through botocore.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from typing import Any

from storages import __version__
from storages.backends.s3.signing import ALGORITHM, PROBE_KEY, SigV4Signer, UrlBase

logger = logging.getLogger("storages.s3")

USER_AGENT = f"storages/{__version__} (direct upload)"

#: PutObject parameters that botocore sends verbatim as headers, with no handler
#: rewriting them. Their header names are read from botocore's service model.
PLAIN_HEADER_PARAMETERS = frozenset(
    {
        "ACL",
        "BucketKeyEnabled",
        "CacheControl",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "ContentType",
        "ExpectedBucketOwner",
        "GrantFullControl",
        "GrantRead",
        "GrantReadACP",
        "GrantWriteACP",
        "IfNoneMatch",
        "Metadata",
        "ObjectLockLegalHoldStatus",
        "ObjectLockMode",
        "RequestPayer",
        "ServerSideEncryption",
        "SSEKMSKeyId",
        "StorageClass",
        "Tagging",
        "WebsiteRedirectLocation",
    }
)


#: After this many uploads in a row that botocore had to send again, the direct
#: path is turned off for the storage (the store keeps refusing it).
MAX_MISSES = 3

_probing = threading.local()
#: One look-up at a time: each registers and removes the same handler.
_probe_lock = threading.Lock()


def _regional(model: Any = None, context: Any = None, **kwargs: Any) -> None:
    """During the look-up: resolve the endpoint as for a sent request, not a presigned one."""
    if getattr(_probing, "active", False) and isinstance(context, dict):
        # botocore presigns some URLs on the global host (bucket.s3.amazonaws.com)
        # where it sends the request itself to the regional one.
        context["use_global_endpoint"] = False


def botocore_put_target(client: Any, bucket: str) -> tuple[str, str] | None:
    """Where botocore sends a ``PutObject`` for ``bucket``, and its signing region.

    Worked out locally, from a presigned ``PutObject`` URL that botocore builds
    with its endpoint rules (addressing style, region, custom endpoint, FIPS,
    dual-stack) and signer: no request is built for sending and nothing goes on
    the wire, so no handler, stubber or in-process fake (moto's ``mock_aws``)
    ever sees an upload of the placeholder key. None if botocore would not sign
    an upload with plain SigV4 for S3 (another signature version, S3 Express
    sessions, anonymous access, no credentials).
    """
    from urllib.parse import parse_qs, urlsplit

    event = "before-endpoint-resolution.s3"
    with _probe_lock:
        client.meta.events.register_first(event, _regional, unique_id="storages-put-target")
        _probing.active = True
        try:
            url = client.generate_presigned_url(
                "put_object", Params={"Bucket": bucket, "Key": PROBE_KEY}
            )
        except Exception as exc:  # no credentials, or anything else: no direct path
            logger.debug("No direct uploads: no presigned upload (%s)", type(exc).__name__)
            return None
        finally:
            _probing.active = False
            client.meta.events.unregister(event, unique_id="storages-put-target")
    query = {name.lower(): values for name, values in parse_qs(urlsplit(url).query).items()}
    if query.get("x-amz-algorithm") != [ALGORITHM] or "x-amz-s3session-token" in query:
        return None
    scope = query.get("x-amz-credential", [""])[0].split("/")
    if len(scope) != 5 or scope[3] != "s3" or scope[4] != "aws4_request":
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", scope[2]


class DirectPut:
    """Send a ``PutObject`` signed here; see the module documentation."""

    def __init__(self, signer: SigV4Signer, http_session: Any, headers: dict[str, str]) -> None:
        self.signer = signer
        self.http_session = http_session
        #: Parameter -> header name ("Metadata" -> the prefix of its headers).
        self.headers = headers
        self.misses = 0
        self.enabled = True

    @classmethod
    def for_client(cls, client: Any, bucket: str, credentials: Any) -> DirectPut | None:
        """A DirectPut to where ``client`` sends uploads for ``bucket``, or None if unsuited."""
        http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        if credentials is None or not callable(getattr(http_session, "send", None)):
            return None
        members = client.meta.service_model.operation_model("PutObject").input_shape.members
        headers = {}
        for parameter in PLAIN_HEADER_PARAMETERS & set(members):
            serialization = members[parameter].serialization
            if serialization.get("location") in ("header", "headers"):
                headers[parameter] = serialization["name"]
        if "IfNoneMatch" not in headers or "Metadata" not in headers:
            return None  # a service model unlike the one this was written for
        target = botocore_put_target(client, bucket)
        if target is None:
            return None
        url, region = target
        return cls(SigV4Signer(UrlBase(url), region, credentials), http_session, headers)

    def request_headers(self, params: dict[str, Any]) -> dict[str, str] | None:
        """The headers for ``params``, or None if any parameter needs botocore."""
        headers: dict[str, str] = {}
        for parameter, value in params.items():
            name = self.headers.get(parameter)
            if name is None:
                return None
            if parameter == "Metadata":
                if not isinstance(value, dict):
                    return None
                for field, text in value.items():
                    if not isinstance(field, str) or not isinstance(text, str):
                        return None
                    headers[name + field] = text
            elif isinstance(value, bool):
                headers[name] = "true" if value else "false"
            elif isinstance(value, str):
                headers[name] = value
            else:
                return None
        for name, value in headers.items():
            # botocore has its own rules for these; so does the server for its signature.
            if not (name.isascii() and value.isascii()) or "\n" in value or "\r" in value:
                return None
        return headers

    def put(self, key: str, body: bytes, params: dict[str, Any]) -> bool:
        """Store ``body`` under ``key``; False means "send it through botocore instead".

        Raises botocore's ``ClientError`` (code ``PreconditionFailed``) when
        ``params`` has ``IfNoneMatch`` and the key is taken.
        """
        headers = self.request_headers(params) if self.enabled else None
        if headers is None:
            return False
        from botocore.awsrequest import AWSPreparedRequest

        # Content-MD5 too: buckets with Object Lock refuse uploads without it.
        headers["Content-MD5"] = base64.b64encode(
            hashlib.md5(body, usedforsecurity=False).digest()
        ).decode()
        path, signed = self.signer.sign_headers(
            "PUT", key, headers, hashlib.sha256(body).hexdigest()
        )
        url = self.signer.base.origin + path
        signed["user-agent"] = USER_AGENT  # not signed, as with botocore
        try:
            response = self.http_session.send(AWSPreparedRequest("PUT", url, signed, body, False))
        except Exception as exc:  # botocore retries connection failures; let it
            logger.debug("Direct upload failed (%s); retrying through botocore", type(exc).__name__)
            return self._missed(type(exc).__name__)
        status = response.status_code
        if status == 200:
            self.misses = 0
            return True
        if status == 412 and "IfNoneMatch" in params:
            from botocore.exceptions import ClientError

            raise ClientError(
                {
                    "Error": {
                        "Code": "PreconditionFailed",
                        "Message": "At least one of the pre-conditions you specified did not hold",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 412},
                },
                "PutObject",
            )
        logger.debug("Direct upload answered HTTP %s; sending it through botocore", status)
        return self._missed(f"HTTP {status}")

    def _missed(self, what: str) -> bool:
        """Count an upload botocore must send again; stop trying after a run of them."""
        self.misses += 1
        if self.misses >= MAX_MISSES and self.enabled:
            self.enabled = False
            logger.warning(
                "Direct uploads to %s turned off after %d in a row went through botocore "
                "(last: %s); uploads go through botocore from now on.",
                self.signer.base.origin,
                self.misses,
                what,
            )
        return False
