"""MogileFS: ``storages.backends.mogilefs.MogileFSStorage`` and its serving view.

Modules: ``storage`` (the Storage API and ``serve_mogilefs_file``) and
``tracker`` (our client of the tracker's text protocol and the storage nodes).
"""

from __future__ import annotations

from storages.backends.mogilefs.storage import MogileFSError, MogileFSStorage, serve_mogilefs_file

__all__ = ["MogileFSError", "MogileFSStorage", "serve_mogilefs_file"]
