"""A test server speaking the Dropbox API v2 (no Dropbox emulator exists anywhere).

It serves, over HTTPS on 127.0.0.1, the routes ``storages.backends.dropbox``
uses, with Dropbox's wire formats: RPC routes take a JSON body, upload and
download routes a ``Dropbox-API-Arg`` header, downloads answer with a
``Dropbox-API-Result`` header (and honour ``Range``), route errors are 409s
with ``{"error_summary": "path/not_found/..", "error": {...}}``, and a bad or
expired token is a 401 ``invalid_access_token`` / ``expired_access_token``.
Paths are case-insensitive and case-preserving, folders are real (made by
uploads, kept when their files go), and every upload keeps a revision that
``rev:`` paths can read. OAuth2 refresh (``/oauth2/token``) issues short-lived
tokens that the API refuses once expired.

Modules: ``tls`` (the session's test CA and the server's certificate),
``state`` (the namespace, revisions, upload sessions, tokens), ``routes`` (one
function per API route), ``server`` (HTTP and the ``/_fake/`` control routes
tests use to inspect the store, expire tokens and inject faults).
Run: ``python -m tests.dropbox_api --port P --cert C --key K ...``.
"""
