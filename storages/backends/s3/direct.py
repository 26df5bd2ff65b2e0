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

Only when nothing else watches requests: any handler beyond botocore's own
defaults on the events a ``PutObject`` passes (``before-call``,
``request-created``, ``before-sign``, ``before-send``, ...), such as moto's
``mock_aws``, a recorder, Sentry or X-Ray, turns the direct path off, since
it would not see the request. Checked when the client is first used for an
upload, and again whenever a handler is registered or removed on the client.

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
import functools
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


#: The events a ``PutObject`` passes through botocore; handlers on them see requests.
REQUEST_EVENTS = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "needs-retry",
    "after-call",
    "response-received",
)
#: Where botocore's own handlers come from.
DEFAULT_ORIGINS = ("botocore.", "boto3.", "s3transfer.")
_defaults: frozenset[tuple[str, str, str]] | None = None
_defaults_lock = threading.Lock()


def _handler_name(handler: Any) -> tuple[str, str]:
    """``(module, qualified name)`` of an event handler (function, method, partial, object)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    owner = getattr(handler, "__self__", None)
    if owner is not None and not isinstance(owner, type):
        return type(owner).__module__, getattr(handler, "__qualname__", "")
    if hasattr(handler, "__qualname__") and getattr(handler, "__module__", None):
        return handler.__module__, handler.__qualname__
    return type(handler).__module__, type(handler).__qualname__


def put_handlers(events: Any) -> set[tuple[str, str, str]]:
    """``(event, module, name)`` of every handler a ``PutObject`` would meet on ``events``."""
    emitter = getattr(events, "_emitter", events)
    found = set()
    for event in REQUEST_EVENTS:
        for handler in emitter._handlers.prefix_search(f"{event}.s3.PutObject"):
            found.add((event, *_handler_name(handler)))
    return found


def default_handlers(loader: Any = None) -> frozenset[tuple[str, str, str]]:
    """The handlers of a freshly made S3 client that are botocore's (or boto3's) own.

    Made once per process, from a new botocore session (on ``loader``, the
    client's data loader, so no service model is parsed again: about 8 ms).
    Handlers another library adds to botocore's built-in list (moto appends
    its ``mock_aws`` stubber there) are left out.
    """
    global _defaults
    with _defaults_lock:
        if _defaults is None:
            import botocore.session

            session = botocore.session.Session()
            if loader is not None:
                session.register_component("data_loader", loader)
            # Placeholder keys: no credential look-up (which may ask a metadata server).
            fresh = session.create_client(
                "s3",
                region_name="us-east-1",
                aws_access_key_id="placeholder",
                aws_secret_access_key="placeholder",  # noqa: S106 - never sent anywhere
            )
            found = put_handlers(fresh.meta.events)
            _defaults = frozenset(entry for entry in found if entry[1].startswith(DEFAULT_ORIGINS))
        return _defaults


def foreign_handlers(events: Any, loader: Any = None) -> list[str]:
    """The handlers on ``events`` a direct upload would bypass (none: direct is safe)."""
    try:
        found = put_handlers(events)
        defaults = default_handlers(loader)
    except Exception as exc:  # an emitter unlike botocore's: assume someone watches
        return [f"unknown ({type(exc).__name__})"]
    return sorted(f"{event}: {module}.{name}" for event, module, name in found - defaults)


class DirectPut:
    """Send a ``PutObject`` signed here; see the module documentation."""

    def __init__(
        self,
        signer: SigV4Signer,
        http_session: Any,
        headers: dict[str, str],
        events: Any = None,
        loader: Any = None,
    ) -> None:
        self.signer = signer
        self.http_session = http_session
        #: Parameter -> header name ("Metadata" -> the prefix of its headers).
        self.headers = headers
        self.misses = 0
        self.enabled = True
        #: The client's events; watched for handlers that must see every request.
        self.events, self.loader = events, loader
        self._checked: Any = None  # the emitter's lookup cache when last checked
        self.watched = False

    def is_watched(self) -> bool:
        """Whether a handler beyond botocore's defaults is registered on the client's events.

        botocore's emitter replaces its lookup cache whenever a handler is
        registered or removed, so the handlers are only looked at again then.
        """
        if self.events is None:
            return False
        emitter = getattr(self.events, "_emitter", self.events)
        cache = getattr(emitter, "_lookup_cache", None)
        if cache is None or cache is not self._checked:
            foreign = foreign_handlers(self.events, self.loader)
            if foreign and not self.watched:
                logger.debug("No direct uploads: event handlers %s see requests", foreign)
            self.watched, self._checked = bool(foreign), cache
        return self.watched

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
        signer = SigV4Signer(UrlBase(url), region, credentials)
        direct = cls(
            signer, http_session, headers, client.meta.events, getattr(client, "_loader", None)
        )
        return None if direct.is_watched() else direct

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
        headers = self.request_headers(params) if self.enabled and not self.is_watched() else None
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
