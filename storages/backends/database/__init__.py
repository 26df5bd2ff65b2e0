"""Files as blobs in a SQL table: ``storages.backends.database.DatabaseStorage``.

Modules: ``storage`` (the Storage API), ``files`` (the blob reader and writer),
``connections`` (Django or pyodbc connections), ``dialects`` (per-database
SQL) and ``sqlite`` (SQLite's incremental blob I/O).
"""

from __future__ import annotations

from storages.backends.database.errors import BlobChangedError, DatabaseStorageError
from storages.backends.database.files import DatabaseFile
from storages.backends.database.storage import DatabaseStorage

__all__ = ["BlobChangedError", "DatabaseFile", "DatabaseStorage", "DatabaseStorageError"]
