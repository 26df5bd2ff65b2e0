"""What the storage_* management commands share: arguments, storage lookup, progress."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.core.management.base import BaseCommand, CommandError

from storages.transfer.tree import Progress, human_size, parse_options, resolve_storage

#: Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_FAILURES = 1  # some files failed to copy, or verify found differences
EXIT_USAGE = 2  # bad arguments or configuration


def add_storage_argument(parser: Any, name: str, help_text: str) -> None:
    parser.add_argument(name, help=f"{help_text}: an alias in STORAGES or a dotted class path")
    parser.add_argument(
        f"--{name}-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"an option for a {name} given as a class path (repeatable; JSON values allowed)",
    )


def storage_from(options: dict[str, Any], name: str) -> Storage:
    try:
        return resolve_storage(options[name], parse_options(options[f"{name}_option"]))
    except (ImproperlyConfigured, ValueError, TypeError) as exc:
        raise CommandError(f"{name} {options[name]!r}: {exc}", returncode=EXIT_USAGE) from exc


class ProgressLine:
    """One self-rewriting status line on a terminal; silent elsewhere."""

    def __init__(self, command: BaseCommand, verbosity: int, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = verbosity >= 1 and hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, progress: Progress, final: bool = False) -> None:
        if not self.enabled:
            return
        with self._lock:
            now = time.monotonic()
            if not final and now - self._last < 0.2:
                return
            self._last = now
            left = progress.seconds_left
            eta = f", {left:.0f} s left" if left is not None and not final else ""
            line = (
                f"{progress.done_files}/{progress.total_files} files, "
                f"{human_size(progress.done_bytes)}/{human_size(progress.total_bytes)}, "
                f"{human_size(progress.rate)}/s{eta}"
            )
            self.stream.write("\r\033[K" + line + ("\n" if final else ""))
            self.stream.flush()
