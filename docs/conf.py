"""Sphinx configuration for the storages documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from storages import __version__

project = "storages"
author = "The storages developers"
copyright = "2026, the storages developers"
version = release = __version__
extensions = ["sphinx.ext.intersphinx"]
intersphinx_mapping = {}
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
nitpicky = False
