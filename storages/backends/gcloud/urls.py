"""URLs of Google Cloud Storage objects, made without a request.

* plain: ``https://storage.googleapis.com/<bucket>/<name>``, or under
  ``custom_endpoint`` (a CDN or a bucket-bound host), when ``querystring_auth``
  is off or the object's ACL is ``publicRead``;
* signed: a V4 signed URL computed here from the credentials' private key
  (google-auth's signer; no request), valid for ``expiration``;
* signed through IAM SignBlob (``iam_sign_blob``) when the credentials have no
  key (Compute Engine, Cloud Run, GKE): then every signature is one call to the
  IAM Credentials API, and a token refresh when the token has expired.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured

from storages.utils import url_name

GOOGLE_STORAGE = "https://storage.googleapis.com"


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

    def get_object_parameters(self, name: str) -> dict[str, Any]:  # provided by the storage
        raise NotImplementedError

    def url(self, name: str, parameters: dict[str, Any] | None = None) -> str:
        """The object's URL; signed unless querystring auth is off or the object is public.

        ``parameters`` go to ``Blob.generate_signed_url`` (``method``,
        ``response_disposition``, ``expiration``, ...), as with django-storages.
        No request is made (except IAM SignBlob calls, see ``iam_sign_blob``).
        """
        relative = url_name(name)  # refuses exactly what save() refuses ("a/../b.txt" too)
        key = f"{self.location}/{relative}" if self.location else relative
        if self.querystring_auth:
            acl = self.get_object_parameters(name).get("acl", self.default_acl)
            if acl != "publicRead":
                return self._signed_url(key, parameters or {})
        base = self.custom_endpoint or f"{GOOGLE_STORAGE}/{self.bucket_name}"
        # Quoted as google-cloud-storage quotes object names ("/" and "~" kept).
        return f"{base}/{quote(key, safe='/~')}"

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
