"""Small uploads without botocore's per-request machinery.

botocore spends about 1.2 ms of CPU on each ``PutObject`` (event handlers,
endpoint rules, parameter validation, checksums, response parsing). On a small
machine that, not the network, bounds collectstatic's thousands of small files.
For a single-request upload whose parameters are all plain headers, the request
is signed here (SigV4 over the body's SHA-256; Content-MD5 as well; the server
checks both) and sent through the client's own HTTP session, so proxies, TLS
verification, client certificates, timeouts and the connection pool are exactly
botocore's: about a third of the CPU.

Only two answers are final here: 200 (stored) and 412 on a conditional create
(the name is taken). Anything else (an error, a redirect to another region, a
dropped connection, a signature the server does not accept) returns ``False``
and the caller sends the same upload through botocore, which retries, follows
redirects and reports errors as usual. Parameters that botocore transforms
(customer-provided keys, ``Expires`` dates, explicit checksums, ...) always go
through botocore.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from typing import Any

from storages import __version__
from storages.s3_signing import SigV4Signer

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


class DirectPut:
    """Send a ``PutObject`` signed here; see the module documentation."""

    def __init__(self, signer: SigV4Signer, http_session: Any, headers: dict[str, str]) -> None:
        self.signer = signer
        self.http_session = http_session
        #: Parameter -> header name ("Metadata" -> the prefix of its headers).
        self.headers = headers

    @classmethod
    def for_client(cls, client: Any, signer: SigV4Signer) -> DirectPut | None:
        """A DirectPut over ``client``'s HTTP session, or None if that is not reachable."""
        http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        if not callable(getattr(http_session, "send", None)):
            return None
        members = client.meta.service_model.operation_model("PutObject").input_shape.members
        headers = {}
        for parameter in PLAIN_HEADER_PARAMETERS & set(members):
            serialization = members[parameter].serialization
            if serialization.get("location") in ("header", "headers"):
                headers[parameter] = serialization["name"]
        if "IfNoneMatch" not in headers or "Metadata" not in headers:
            return None  # a service model unlike the one this was written for
        return cls(signer, http_session, headers)

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
        headers = self.request_headers(params)
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
            return False
        status = response.status_code
        if status == 200:
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
        return False
