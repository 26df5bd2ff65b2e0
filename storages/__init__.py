"""Pluggable file-storage backends for Django."""

__version__ = "2.0.0"
