"""URLs of Google Cloud Storage objects, made without a request.

* plain: ``https://storage.googleapis.com/<bucket>/<name>``, or under
  ``custom_endpoint`` (a CDN or a bucket-bound host), when ``querystring_auth``
  is off or the object's ACL is ``publicRead``;
* signed: a V4 signed URL computed here from the credentials' private key
  (google-auth's signer; no request), valid for ``expiration``;
* signed through IAM SignBlob (``iam_sign_blob``) when the credentials have no
  key (Compute Engine, Cloud Run, GKE): then every signature is one call to the
  IAM Credentials API, and a token refresh when the token has expired.

A signed URL is reused (``url_reuse``): the same name with the same parameters,
expiration, signer and endpoint gets the URL signed less than ``url_reuse`` of
its lifetime ago (10% by default), so every URL returned is still valid for at
least the rest (90%) of ``expiration``. The URLs are kept in a bounded LRU.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

from storages.utils import url_name

GOOGLE_STORAGE = "https://storage.googleapis.com"
#: The fraction of its lifetime a signed URL is reused for, unless ``url_reuse`` says.
DEFAULT_URL_REUSE = 0.1
#: Signed URLs kept per storage (about 1.3 KB each with short names, the RSA-2048 signature
#: alone being 512 hex digits: 2.6 MiB when full).
SIGNED_URLS_KEPT = 2048
#: X-Goog-Date is in whole seconds, rounded down: a URL may start up to 1 s before it was made.
DATE_RESOLUTION = 1.0
#: Parameters that bring their own signer: such URLs are signed every time.
ONE_OFF_SIGNERS = frozenset({"credentials", "access_token", "service_account_email"})

_ATOMS = (str, int, float, bool, bytes, type(None))


def url_reuse_fraction(value: Any) -> float:
    """``url_reuse`` as the fraction of the lifetime a signed URL is reused for (0: never)."""
    if value is True:
        return DEFAULT_URL_REUSE
    if value is False or value is None:
        return 0.0
    if isinstance(value, (int, float)) and 0 <= value < 1:
        return float(value)
    raise ImproperlyConfigured(
        f"GS_URL_REUSE must be True, False or a fraction of GS_EXPIRATION in [0, 1), not {value!r}"
    )


def lifetime_seconds(expiration: Any) -> int | None:
    """A V4 URL's lifetime for ``expiration``; None for a deadline (a ``datetime``)."""
    if isinstance(expiration, datetime.timedelta):
        return int(expiration.total_seconds())  # as google-cloud-storage truncates it
    if isinstance(expiration, int) and not isinstance(expiration, bool):
        return expiration  # V4: seconds from now
    return None


def frozen(value: Any) -> Hashable:
    """``value`` as a hashable key; TypeError for what cannot be compared by value."""
    if isinstance(value, _ATOMS):
        return (type(value).__name__, value)  # True and 1 sign different URLs
    if isinstance(value, dict):
        return ("dict", tuple(sorted((frozen(k), frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("seq", tuple(frozen(item) for item in value))
    raise TypeError(type(value).__name__)


class SignedUrls:
    """Recent signed URLs by what made them: an LRU of ``size`` entries, thread-safe.

    Each entry is reusable until a time of ``clock`` (``time.monotonic``: the age
    of a URL, not the wall clock, decides).
    """

    def __init__(
        self, size: int = SIGNED_URLS_KEPT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[Hashable, tuple[str, float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, signer: Any) -> str | None:
        now = self.clock()
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            url, until, made_by = found
            if now >= until or made_by is not signer:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return url

    def put(self, key: Hashable, url: str, until: float, signer: Any) -> None:
        with self._lock:
            self._entries[key] = (url, until, signer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class GoogleCloudUrls:
    """The ``url()`` of :class:`~storages.backends.gcloud.GoogleCloudStorage`."""

    bucket_name: str
    location: str
    custom_endpoint: str | None
    default_acl: str | None
    querystring_auth: bool
    expiration: Any
    iam_sign_blob: bool
    sa_email: str | None
    url_reuse: Any

    def get_object_parameters(self, name: str) -> dict[str, Any]:  # provided by the storage
        raise NotImplementedError

    def url(self, name: str, parameters: dict[str, Any] | None = None) -> str:
        """The object's URL; signed unless querystring auth is off or the object is public.

        ``parameters`` go to ``Blob.generate_signed_url`` (``method``,
        ``response_disposition``, ``expiration``, ...), as with django-storages.
        No request is made (except IAM SignBlob calls, see ``iam_sign_blob``).
        A signed URL made recently for the same name and parameters is reused
        (see ``url_reuse``).
        """
        relative = url_name(name)  # refuses exactly what save() refuses ("a/../b.txt" too)
        key = f"{self.location}/{relative}" if self.location else relative
        if self.querystring_auth:
            acl = self.get_object_parameters(name).get("acl", self.default_acl)
            if acl != "publicRead":
                return self._reused_signed_url(key, parameters or {})
        base = self.custom_endpoint or f"{GOOGLE_STORAGE}/{self.bucket_name}"
        # Quoted as google-cloud-storage quotes object names ("/" and "~" kept).
        return f"{base}/{quote(key, safe='/~')}"

    @property
    def _signed_urls(self) -> SignedUrls:
        """This storage's recent signed URLs (transient: dropped on reconfiguration)."""
        urls = self.__dict__.get("_signed_url_cache")
        if urls is None:
            urls = self.__dict__.setdefault("_signed_url_cache", SignedUrls())
        return urls

    def _reused_signed_url(self, key: str, parameters: dict[str, Any]) -> str:
        fraction = url_reuse_fraction(self.url_reuse)
        lifetime = lifetime_seconds(parameters.get("expiration", self.expiration))
        reuse_key = self._reuse_key(key, parameters, lifetime) if fraction else None
        if reuse_key is None or lifetime is None:
            return self._signed_url(key, parameters)
        signer = self.client._credentials  # type: ignore[attr-defined]
        urls = self._signed_urls
        url = urls.get(reuse_key, signer)
        if url is None:
            # Read before signing: the URL's own start (X-Goog-Date, rounded down to
            # the second) is at most DATE_RESOLUTION earlier, so it is never older
            # than counted here.
            started = urls.clock() - DATE_RESOLUTION
            url = self._signed_url(key, parameters)
            until = started + fraction * lifetime
            if until > urls.clock():
                urls.put(reuse_key, url, until, signer)
        return url

    def _reuse_key(
        self, key: str, parameters: dict[str, Any], lifetime: int | None
    ) -> Hashable | None:
        """What makes a signed URL, minus the time; None when it cannot be reused.

        Not reused: a deadline expiration (``datetime``), V2 URLs (an integer
        expiration is a deadline there), a signer given in ``parameters``, and
        values that cannot be compared by value.
        """
        if lifetime is None or lifetime <= 0:
            return None
        given: Hashable = None  # url(name): the common case, nothing more to compare
        if parameters:
            if ONE_OFF_SIGNERS.intersection(parameters) or parameters.get("version", "v4") != "v4":
                return None
            try:
                given = frozen({k: v for k, v in parameters.items() if k != "expiration"})
            except TypeError:
                return None
        email = self.sa_email if self.iam_sign_blob else None
        return (
            key,
            given,
            lifetime,
            self.bucket_name,
            self.custom_endpoint,
            bool(self.iam_sign_blob),
            email,
        )

    def _signed_url(self, key: str, parameters: dict[str, Any]) -> str:
        blob = self.bucket.blob(key)  # type: ignore[attr-defined]
        given: dict[str, Any] = {"version": "v4", "expiration": self.expiration}
        if self.custom_endpoint:
            given["bucket_bound_hostname"] = self.custom_endpoint
        elif "bucket_bound_hostname" not in parameters:
            given["api_access_endpoint"] = GOOGLE_STORAGE
        if self.iam_sign_blob:
            given["service_account_email"], given["access_token"] = self._iam_sign_blob_params()
        given.update(parameters)
        try:
            return blob.generate_signed_url(**given)
        except AttributeError as exc:
            # google-cloud-storage's way to say the credentials hold no private key.
            raise ImproperlyConfigured(
                f"Cannot sign a URL for gs://{self.bucket_name}/{key}: the credentials have "
                "no private key. Give GS_CREDENTIALS a service-account key, set "
                "GS_IAM_SIGN_BLOB = True (and GS_SA_EMAIL) to sign through IAM, or set "
                "GS_QUERYSTRING_AUTH = False for plain URLs."
            ) from exc

    def _iam_sign_blob_params(self) -> tuple[str, str]:
        """The service account to sign as and a fresh access token, for IAM SignBlob."""
        from google.auth.transport.requests import Request

        credentials = self.client._credentials  # type: ignore[attr-defined]
        if not getattr(credentials, "valid", False) or getattr(credentials, "token", None) is None:
            credentials.refresh(Request())
        email = self.sa_email or getattr(credentials, "service_account_email", None)
        if not email or email == "default":
            raise ImproperlyConfigured(
                "GS_IAM_SIGN_BLOB needs the service account's email: set GS_SA_EMAIL."
            )
        return email, credentials.token
