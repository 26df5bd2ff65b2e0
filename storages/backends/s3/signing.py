"""Cheap ``url()`` and small uploads: the object URL base is worked out once, signing is done here.

botocore's ``generate_presigned_url`` resolves the endpoint (a rules engine)
and builds a request on every call, which costs far more than a page of
thumbnails can afford. The storage asks botocore once, for a probe key, to learn
the scheme, host and path prefix it would use (addressing style, region,
custom endpoint, FIPS, dual-stack are all botocore's decision), then builds
each URL from that base and signs it with Signature Version 4 (query
parameters for URLs, an ``Authorization`` header for storages.backends.s3.direct's
uploads), reusing the day's derived signing key.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import threading
import time
from typing import Any
from urllib.parse import quote, urlsplit

#: The placeholder key of the presigned URLs the address layout is learned from.
#: Those are computed locally: no request for it is ever prepared or sent.
PROBE_KEY = "storages-url-probe"
ALGORITHM = "AWS4-HMAC-SHA256"


# Byte -> its form in a URL path: unreserved characters and "/" as they are, the
# rest percent-encoded (what ``quote(key, safe="/~")`` gives, by table lookup).
_PATH_BYTES = [
    chr(byte)
    if chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in "-_.~/")
    else f"%{byte:02X}"
    for byte in range(256)
]


def quote_key(key: str) -> str:
    """The key as botocore writes it in an S3 URL path (and in the canonical request)."""
    return "".join(map(_PATH_BYTES.__getitem__, key.encode()))


def _quote_param(value: str) -> str:
    return quote(value, safe="-_.~")


class UrlBase:
    """``scheme://host/prefix`` for objects of one bucket, as botocore would address them."""

    def __init__(self, probe_url: str) -> None:
        parts = urlsplit(probe_url)
        path = parts.path
        suffix = "/" + PROBE_KEY
        if not path.endswith(suffix):
            raise ValueError(f"unexpected presigned URL shape: {parts.scheme}://{parts.netloc}")
        self.scheme = parts.scheme
        self.host = parts.netloc
        self.prefix = path[: -len(suffix)]
        self.origin = f"{self.scheme}://{self.host}"

    def url(self, key: str) -> str:
        return f"{self.origin}{self.prefix}/{quote_key(key)}"


class SigV4Signer:
    """SigV4 for one bucket: presigned GET URLs and signed request headers."""

    def __init__(self, base: UrlBase, region: str, credentials: Any) -> None:
        self.base = base
        self.region = region or "us-east-1"
        self._credentials = credentials
        self._keys: dict[tuple[str, str], bytes] = {}
        self._queries: dict[tuple[Any, ...], tuple[str, str]] = {}
        self._stamp_cache: tuple[int, str] = (-1, "")
        # Fixed keys never change; refreshable ones (roles, SSO) are read each time.
        self._frozen = (
            credentials.get_frozen_credentials()
            if type(credentials).__name__ == "Credentials"
            else None
        )
        self._lock = threading.Lock()

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached = self._keys.get((secret, day))
        if cached is not None:
            return cached
        key = _hmac(("AWS4" + secret).encode(), day)
        for part in (self.region, "s3", "aws4_request"):
            key = _hmac(key, part)
        with self._lock:
            self._keys = {(secret, day): key}  # only today's key is kept
        return key

    def _query_parts(self, access_key: str, token: str | None, scope: str, expires: int):
        """The constant parts of the query around ``X-Amz-Date``, quoted once and cached."""
        cache_key = (access_key, token, scope, expires)
        cached = self._queries.get(cache_key)
        if cached is None:
            # Parameters in sorted order, as the canonical request needs them.
            head = (
                f"X-Amz-Algorithm={ALGORITHM}"
                f"&X-Amz-Credential={_quote_param(f'{access_key}/{scope}')}&X-Amz-Date="
            )
            tail = f"&X-Amz-Expires={expires}"
            if token:
                tail += f"&X-Amz-Security-Token={_quote_param(token)}"
            tail += "&X-Amz-SignedHeaders=host"
            cached = (head, tail)
            if len(self._queries) > 64:
                self._queries = {}
            self._queries[cache_key] = cached
        return cached

    def presign_get(self, key: str, expires_in: int, now: datetime.datetime | None = None) -> str:
        frozen = self._frozen or self._credentials.get_frozen_credentials()
        stamp = now.strftime("%Y%m%dT%H%M%SZ") if now else self._stamp()
        day = stamp[:8]
        scope = f"{day}/{self.region}/s3/aws4_request"
        head, tail = self._query_parts(frozen.access_key, frozen.token, scope, int(expires_in))
        query = f"{head}{stamp}{tail}"
        path = f"{self.base.prefix}/{quote_key(key)}"
        canonical = f"GET\n{path}\n{query}\nhost:{self.base.host}\n\nhost\nUNSIGNED-PAYLOAD"
        signature = self._signature(frozen.secret_key, stamp, scope, canonical)
        return f"{self.base.origin}{path}?{query}&X-Amz-Signature={signature}"

    def sign_headers(
        self, method: str, key: str, headers: dict[str, str], payload_hash: str
    ) -> tuple[str, dict[str, str]]:
        """The request path and ``headers`` with SigV4 header authentication added.

        Every header given is signed; ``host``, the payload hash, the date and the
        session token (if any) are added. Names come back lower-case.
        """
        frozen = self._frozen or self._credentials.get_frozen_credentials()
        stamp = self._stamp()
        day = stamp[:8]
        scope = f"{day}/{self.region}/s3/aws4_request"
        signed = {name.lower(): value for name, value in headers.items()}
        signed["host"] = self.base.host
        signed["x-amz-content-sha256"] = payload_hash
        signed["x-amz-date"] = stamp
        if frozen.token:
            signed["x-amz-security-token"] = frozen.token
        names = sorted(signed)
        # Canonical values are trimmed with inner runs of spaces collapsed, as servers do.
        canonical_headers = "".join(f"{name}:{' '.join(signed[name].split())}\n" for name in names)
        signed_names = ";".join(names)
        path = f"{self.base.prefix}/{quote_key(key)}"
        canonical = f"{method}\n{path}\n\n{canonical_headers}\n{signed_names}\n{payload_hash}"
        signature = self._signature(frozen.secret_key, stamp, scope, canonical)
        signed["authorization"] = (
            f"{ALGORITHM} Credential={frozen.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return path, signed

    def _signature(self, secret: str, stamp: str, scope: str, canonical_request: str) -> str:
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
        return hmac.digest(self._signing_key(secret, stamp[:8]), to_sign.encode(), "sha256").hex()

    def _stamp(self) -> str:
        """The current ``X-Amz-Date``, formatted once per second."""
        second = int(_now())
        cached = self._stamp_cache
        if cached[0] != second:
            moment = datetime.datetime.fromtimestamp(second, datetime.UTC)
            cached = self._stamp_cache = (second, moment.strftime("%Y%m%dT%H%M%SZ"))
        return cached[1]


def _now() -> float:
    return time.time()


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def cloudfront_signer(key_id: str, private_key_pem: str | bytes) -> Any:
    """A botocore ``CloudFrontSigner`` using RSA-SHA1, as CloudFront requires."""
    from botocore.signers import CloudFrontSigner
    from django.core.exceptions import ImproperlyConfigured

    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Signed CloudFront URLs need the 'cryptography' package: pip install cryptography"
        ) from exc
    if isinstance(private_key_pem, str):
        private_key_pem = private_key_pem.encode()
    try:
        private_key = serialization.load_pem_private_key(private_key_pem, password=None)
    except (ValueError, TypeError):
        # "from None": the message must not carry anything derived from the key.
        raise ImproperlyConfigured(
            "AWS_CLOUDFRONT_KEY is not an unencrypted PEM private key"
        ) from None

    def rsa_signer(message: bytes) -> bytes:
        return private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # noqa: S303 - CloudFront's scheme

    return CloudFrontSigner(key_id, rsa_signer)
