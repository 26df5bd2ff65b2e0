"""``url()`` for Azure blobs, with no request: plain, SAS-signed and upload URLs.

The URL base (``<endpoint>/<container>``, or the custom domain's) is worked
out once per storage. A signed URL is a service SAS computed here from the
account key (HMAC-SHA256, no request), or, with a token credential and no key,
from a user delegation key (one request, then reused until near its expiry).
``url(name, mode="w")`` gives a SAS allowing an upload (``PUT`` with
``x-ms-blob-type: BlockBlob``).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import threading
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

from storages.utils import safe_join, url_name

#: A user delegation key is asked for this long, and renewed this long before it ends.
DELEGATION_KEY_LIFE = datetime.timedelta(days=7)
DELEGATION_KEY_MARGIN = datetime.timedelta(minutes=5)

_key_lock = threading.Lock()
#: The service version our own SAS signer writes (its string-to-sign layout).
SAS_VERSION = "2024-11-04"
#: Permission strings the local signer takes as they are (already in Azure's order).
_FAST_PERMISSIONS = {"r": "r", "w": "w", "rw": "rw", "wr": "rw"}


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class AzureUrls:
    """The URL half of :class:`~storages.backends.azure_storage.AzureStorage`."""

    def url_base(self) -> str:
        """``scheme://host[/account]/container``: the blob URLs' common start (cached)."""
        base = self.__dict__.get("_url_base")
        if base is None:
            parts = urlsplit(self.client.url)
            scheme, netloc = parts.scheme, parts.netloc
            if self.custom_domain:
                netloc = self.custom_domain
                if not self.connection_string:
                    scheme = self.azure_protocol
            base = urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
            self.__dict__["_url_base"] = base
        return base

    def url(
        self,
        name: str,
        expire: int | None = None,
        parameters: dict[str, Any] | None = None,
        mode: str = "r",
    ) -> str:
        """The blob's URL; signed when ``expire`` (or ``expiration_secs``) is set.

        ``parameters`` go to azure's ``generate_blob_sas`` (``content_disposition``,
        ``content_type``, ``start``, ``ip``, ...); ``mode`` gives the SAS's
        permissions (``"r"``, ``"w"``, ``"rw"``, ...).
        """
        relative = url_name(name)
        blob = safe_join(self.location, relative)
        url = f"{self.url_base()}/{quote(blob, safe='/~')}"
        if expire is None:
            expire = self.expiration_secs
        if expire:
            return f"{url}?{self.blob_sas(blob, expire, parameters, mode)}"
        token = self._sas_query()
        return f"{url}?{token}" if token else url

    def _sas_query(self) -> str:
        """The SAS token the storage authenticates with, if any (it goes on plain URLs)."""
        if self.connection_string:  # its SharedAccessSignature, as the SDK uses it
            token = None if self.account_key else self._connection_sas
        else:
            token = None if self.account_key else self.sas_token
        return str(token or "").lstrip("?")

    def blob_sas(
        self, blob: str, expire: int, parameters: dict[str, Any] | None = None, mode: str = "r"
    ) -> str:
        """A service SAS (query string) for ``blob``, valid ``expire`` seconds."""
        expiry = utcnow() + datetime.timedelta(seconds=int(expire))
        permission = _FAST_PERMISSIONS.get(mode)
        if self.account_key and not parameters and permission:
            return self._signed_here(blob, expiry, permission)
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        delegation = None
        if not self.account_key:
            delegation = self.get_user_delegation_key(expiry)
            if delegation is None:
                raise ImproperlyConfigured(
                    f"{type(self).__name__} can not sign URLs for container "
                    f"{self.azure_container!r}: give AZURE_ACCOUNT_KEY (account_key) or "
                    "AZURE_TOKEN_CREDENTIAL (token_credential), or set "
                    "AZURE_URL_EXPIRATION_SECS to None for plain URLs."
                )
        return generate_blob_sas(
            self.account_name,
            self.azure_container,
            blob,
            account_key=self.account_key or None,
            user_delegation_key=delegation,
            permission=BlobSasPermissions.from_string(mode),
            expiry=expiry,
            **(parameters or {}),
        )

    def _signed_here(self, blob: str, expiry: datetime.datetime, permission: str) -> str:
        """A blob service SAS signed with the account key, as ``generate_blob_sas`` signs it.

        The common case (read or write, no response overrides) without the SDK's
        general machinery: one HMAC-SHA256 over the string-to-sign of
        ``SAS_VERSION``.
        """
        key = self.__dict__.get("_signing_key")
        if key is None or key[0] != self.account_key:
            key = (self.account_key, base64.b64decode(self.account_key))
            self.__dict__["_signing_key"] = key
        expires = expiry.strftime("%Y-%m-%dT%H:%M:%SZ")
        resource = f"/blob/{self.account_name}/{self.azure_container}/{blob}"
        # sp, st, se, resource, si, sip, spr, sv, sr, snapshot time, ses, rscc..rsct
        string_to_sign = "\n".join(
            [
                permission,
                "",
                expires,
                resource,
                "",
                "",
                "",
                SAS_VERSION,
                "b",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
        digest = hmac.new(key[1], string_to_sign.encode(), hashlib.sha256).digest()
        signature = quote(base64.b64encode(digest).decode(), safe="")
        return f"se={quote(expires, safe='')}&sp={permission}&sv={SAS_VERSION}&sr=b&sig={signature}"

    def get_user_delegation_key(self, expiry: datetime.datetime) -> Any:
        """A user delegation key valid past ``expiry`` (None without a token credential)."""
        if self.token_credential is None:
            return None
        if expiry.tzinfo is None:  # django-storages passed naive UTC
            expiry = expiry.replace(tzinfo=datetime.UTC)
        if expiry > utcnow() + DELEGATION_KEY_LIFE:
            # Azure gives no key past 7 days, and a SAS dies with its key: refuse
            # here rather than hand out a URL that stops working early (and ask
            # for a new key on every call, as no key would ever cover it).
            raise ValueError(
                f"A URL signed with a user delegation key lasts at most "
                f"{DELEGATION_KEY_LIFE.days} days (Azure's limit for the key); "
                f"ask for a shorter expire, or sign with an account key."
            )
        with _key_lock:
            key, valid_until = self.__dict__.get("_user_delegation_key") or (None, None)
            if key is None or expiry > valid_until - DELEGATION_KEY_MARGIN:
                start = utcnow()
                valid_until = start + DELEGATION_KEY_LIFE
                with self._errors("", "get a user delegation key for"):
                    key = self.service_client.get_user_delegation_key(
                        key_start_time=start, key_expiry_time=valid_until
                    )
                self.__dict__["_user_delegation_key"] = (key, valid_until)
        return key


__all__ = ["AzureUrls"]
