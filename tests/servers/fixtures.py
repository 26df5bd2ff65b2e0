"""Pytest plugin: session fixtures that run real servers for the backend tests.

Each backend adds its fixture here (or in a module of this package that this
one imports); every fixture starts its server once per session on a free
loopback port and stops it when the session ends, pass or fail.
"""

from __future__ import annotations
