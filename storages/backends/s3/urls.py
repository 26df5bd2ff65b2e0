"""Addresses of S3 objects: plain, presigned (fast SigV4), CloudFront-signed; upload URLs and forms.

``url()`` makes no request: the address layout is learned once from one
presigned URL of botocore's (so endpoints, addressing styles and regions are
botocore's own), and GET URLs are then signed here by ``SigV4Signer``.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from storages.backends.s3.options import OMITTED
from storages.backends.s3.signing import (
    PROBE_KEY,
    SigV4Signer,
    UrlBase,
    cloudfront_signer,
    quote_key,
)

# Set while the manifest storage rewrites references inside CSS/JS: those must be
# plain addresses, never signed (expiring) URLs.
_plain_urls = threading.local()


@contextlib.contextmanager
def plain_urls(active: bool = True) -> Iterator[None]:
    """Within this block (and this thread), ``url()`` gives unsigned addresses."""
    previous = getattr(_plain_urls, "active", False)
    _plain_urls.active = previous or active
    try:
        yield
    finally:
        _plain_urls.active = previous


class S3Urls:
    """The URL methods of :class:`~storages.backends.s3.S3Storage`."""

    def _base(self) -> UrlBase:
        base = self.__dict__.get("_url_base")
        if base is None:
            base = UrlBase(self._probe_url())
            self.__dict__["_url_base"] = base
        return base

    def _probe_url(self) -> str:
        from botocore.exceptions import NoCredentialsError

        # Computed locally by botocore: no request is sent, nothing is stored.
        params = {"Bucket": self.bucket_name, "Key": PROBE_KEY}
        try:
            return self.connection.generate_presigned_url("get_object", Params=params)
        except NoCredentialsError:
            # Public buckets without credentials: only the address is wanted.
            return self._unsigned_client().generate_presigned_url("get_object", Params=params)

    def _unsigned_client(self) -> Any:
        """A client that signs nothing, for addresses of public objects (made once)."""
        client = self.__dict__.get("_unsigned")
        if client is None:
            from botocore import UNSIGNED
            from botocore.config import Config

            kwargs: dict[str, Any] = {"verify": self.verify} if self.verify is not None else {}
            client = self._make_session().client(
                "s3",
                region_name=self.region_name,
                endpoint_url=self.endpoint_url,
                use_ssl=self.use_ssl,
                config=self._make_config().merge(Config(signature_version=UNSIGNED)),
                **kwargs,
            )
            self.__dict__["_unsigned"] = client
        return client

    def _fast_presigner(self) -> SigV4Signer | None:
        presigner = self.__dict__.get("_presigner", False)
        if presigner is False:
            presigner = None
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self._probe_url()).query)
            credential = query.get("X-Amz-Credential", [""])[0].split("/")
            session = self.__dict__.get("_session")
            if (
                query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]
                and len(credential) == 5
                and session is not None
                and session.get_credentials() is not None
            ):
                presigner = SigV4Signer(self._base(), credential[2], session.get_credentials())
            self.__dict__["_presigner"] = presigner
        return presigner

    def url(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        """The object's address; signed (expiring) when ``querystring_auth`` is on.

        With a custom domain: ``<url_protocol>//<domain>/<key>``, ``parameters``
        as its query string, signed by the CloudFront signer (if there is one)
        only when ``querystring_auth`` is on. Otherwise a presigned S3 URL, or a
        plain one (``parameters`` still in its query) when it is off.
        """
        key = self._key(name)
        expire = self.querystring_expire if expire is None else expire
        domain = self.custom_domain or (self.bucket_name if self._bucket_is_host else None)
        plain = getattr(_plain_urls, "active", False)
        if domain:
            url = f"{self.url_protocol}//{domain}/{quote_key(key)}"
            if parameters:
                url += "?" + urlencode(parameters)
            signer = self._signer_in_use() if self.querystring_auth and not plain else None
            if signer is not None:
                until = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expire)
                return signer.generate_presigned_url(url, date_less_than=until)
            return url
        if plain or not (parameters or http_method):
            if plain or not self.querystring_auth:
                return self._base().url(key)
            presigner = self._fast_presigner()
            if presigner is not None:
                return presigner.presign_get(key, expire)
        params = {"Bucket": self.bucket_name, "Key": key, **(parameters or {})}
        # querystring_auth off: botocore's address with the parameters, unsigned.
        client = self.connection if self.querystring_auth else self._unsigned_client()
        with self._errors(key, "sign a URL for"):
            return client.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expire, HttpMethod=http_method
            )

    def get_cloudfront_signer(self, key_id: str, key: str | bytes) -> Any:
        """A CloudFront signer for ``key_id`` and the PEM private ``key`` (override to change).

        Called once, on the first signed URL, when no ``cloudfront_signer`` is given.
        """
        return cloudfront_signer(key_id, key)

    def _signer_in_use(self) -> Any:
        """The CloudFront signer in use: the one given, else one from the keys, else None."""
        given = self.cloudfront_signer
        if given is not OMITTED:
            return given
        signer = self.__dict__.get("_cloudfront")
        if signer is None and self.cloudfront_key_id and self.cloudfront_key:
            signer = self.get_cloudfront_signer(self.cloudfront_key_id, self.cloudfront_key)
            self.__dict__["_cloudfront"] = signer
        return signer

    def presigned_upload_url(
        self, name: str, *, expire: int | None = None, content_type: str | None = None
    ) -> str:
        """A URL a browser can ``PUT`` the file's bytes to (for direct uploads).

        The caller chooses the name: pass it through ``get_alternative_name`` or
        a UUID first. A ``content_type`` given here must be sent as the upload's
        ``Content-Type`` header.
        """
        key = self._key(name)
        params: dict[str, Any] = {"Bucket": self.bucket_name, "Key": key}
        if content_type:
            params["ContentType"] = content_type
        if self.default_acl:
            params["ACL"] = self.default_acl
        with self._errors(key, "sign an upload URL for"):
            return self.connection.generate_presigned_url(
                "put_object",
                Params=params,
                ExpiresIn=self.querystring_expire if expire is None else expire,
            )

    def presigned_post(
        self,
        name: str,
        *,
        expire: int | None = None,
        max_size: int | None = None,
        fields: dict[str, Any] | None = None,
        conditions: list[Any] | None = None,
    ) -> dict[str, Any]:
        """``{"url": ..., "fields": {...}}`` for an HTML form ``POST`` upload (policy)."""
        key = self._key(name)
        fields = dict(fields or {})
        conditions = list(conditions or [])
        if self.default_acl:
            fields.setdefault("acl", self.default_acl)
            conditions.append({"acl": fields["acl"]})
        if max_size is not None:
            conditions.append(["content-length-range", 0, int(max_size)])
        with self._errors(key, "sign an upload form for"):
            return self.connection.generate_presigned_post(
                self.bucket_name,
                key,
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=self.querystring_expire if expire is None else expire,
            )
