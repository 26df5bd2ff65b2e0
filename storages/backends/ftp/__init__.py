"""FTP and FTPS: ``storages.backends.ftp.FTPStorage``.

Modules: ``storage`` (the Storage API) and ``client`` (ftplib connections,
listings and TLS session reuse).
"""

from __future__ import annotations

from storages.backends.ftp.storage import (
    FTPFileNotFoundError,
    FTPStorage,
    FTPStorageError,
    FTPStorageException,
    FTPStorageFile,
)

__all__ = [
    "FTPFileNotFoundError",
    "FTPStorage",
    "FTPStorageError",
    "FTPStorageException",
    "FTPStorageFile",
]
