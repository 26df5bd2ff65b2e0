"""The package layout of docs/internals.rst: module sizes and which way imports go."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "storages"
MAX_LINES = 600
#: The shared ground floor: everything above may import it, it imports nothing above.
GROUND_FLOOR = {
    "storages",
    "storages.base",
    "storages.checks",
    "storages.files",
    "storages.filesystem",
    "storages.legacy",
    "storages.pool",
    "storages.remote_tree",
    "storages.utils",
}
#: Ground-floor packages (``storages.aio.*``, ``storages.views.*``): all their modules too.
GROUND_PACKAGES = {"aio", "views"}
#: Backends that are other backends under another name may import them.
ALIASES = {"s3boto": {"s3"}, "s3boto3": {"s3"}, "sftpstorage": {"sftp"}}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(path: Path) -> set[str]:
    """Every ``storages`` module ``path`` imports (at the top or inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from storages.backends.ftp import client``: a module, not a name.
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in MODULES
            )
    return {name for name in found if name == "storages" or name.startswith("storages.")}


def layer(name: str) -> str:
    """``ground``, ``backend:<name>``, ``collectstatic``, ``transfer`` or ``management``."""
    if name == "storages.apps":  # ready() wires up the checks of every layer
        return "management"
    parts = name.split(".")
    if name in GROUND_FLOOR or (len(parts) > 1 and parts[1] in GROUND_PACKAGES):
        return "ground"
    if parts[1] == "backends":
        return f"backend:{parts[2]}" if len(parts) > 2 else "ground"
    return parts[1]


def allowed(importer: str, imported: str) -> bool:
    source, target = layer(importer), layer(imported)
    if target == "ground" or source == target or source == "management":
        return True
    if source == "ground":
        return False
    if source.startswith("backend:"):
        backend = source.split(":")[1]
        return target.split(":")[-1] in ALIASES.get(backend, ())
    # collectstatic and transfer are services over any storage: no backend, no command.
    return target in ("collectstatic", "transfer")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (at most {MAX_LINES})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards(name):
    wrong = sorted(
        target for target in imported_modules(MODULES[name]) if not allowed(name, target)
    )
    assert not wrong, f"{name} ({layer(name)}) imports {wrong} from a layer it must not reach"


def test_the_layer_rule_can_fail():
    assert not allowed("storages.utils", "storages.backends.s3.storage")
    assert not allowed("storages.backends.ftp.storage", "storages.backends.sftp.client")
    assert not allowed("storages.collectstatic.plan", "storages.backends.s3")
    assert allowed("storages.backends.s3boto", "storages.backends.s3")
    assert allowed("storages.backends.ftp.storage", "storages.pool")


#: Every dotted path of the original documentation and of our docs' STORAGES examples.
PUBLIC_PATHS = [
    "storages.backends.s3.S3Storage",
    "storages.backends.s3.S3StaticStorage",
    "storages.backends.s3.S3ManifestStaticStorage",
    "storages.backends.s3boto.S3BotoStorage",
    "storages.backends.s3boto.S3BotoStaticStorage",
    "storages.backends.s3boto.S3BotoManifestStaticStorage",
    "storages.backends.database.DatabaseStorage",
    "storages.backends.ftp.FTPStorage",
    "storages.backends.sftp.SFTPStorage",
    "storages.backends.mosso.CloudFilesStorage",
    "storages.backends.mosso.cloudfiles_upload_to",
    "storages.backends.mogilefs.MogileFSStorage",
    "storages.backends.mogilefs.serve_mogilefs_file",
    "storages.backends.mongodb.GridFSStorage",
    "storages.backends.couchdb.CouchDBStorage",
    "storages.backends.overwrite.OverwriteStorage",
    "storages.backends.symlinkorcopy.SymlinkOrCopyStorage",
    "storages.backends.image.ImageStorage",
    "storages.backends.azure_storage.AzureStorage",
    "storages.backends.azure_storage.AzureStaticStorage",
    "storages.backends.azure_storage.AzureManifestStaticStorage",
    "storages.backends.gcloud.GoogleCloudStorage",
    "storages.backends.gcloud.GoogleCloudStaticStorage",
    "storages.backends.gcloud.GoogleCloudManifestStaticStorage",
    "storages.backends.dropbox.DropboxStorage",
    "storages.backends.dropbox.DropboxFile",
    "storages.backends.apache_libcloud.LibCloudStorage",
]


def documented_paths() -> list[str]:
    """The ``storages.backends.<module>.<Name>`` paths our README and docs show."""
    root = PACKAGE.parent
    texts = [root / "README.rst", *sorted((root / "docs").rglob("*.rst"))]
    pattern = re.compile(r"storages\.backends(?:\.[a-z_0-9]+)+\.[A-Za-z_][A-Za-z_0-9]*")
    found = {match for text in texts for match in pattern.findall(text.read_text())}
    # A module path ending in a lower-case name may name a module, not an attribute.
    return sorted(path for path in found if path.rpartition(".")[2][0].isupper())


def test_docs_show_paths():
    assert "storages.backends.s3.S3Storage" in documented_paths()


@pytest.mark.parametrize("path", sorted(set(PUBLIC_PATHS) | set(documented_paths())))
def test_public_path_imports(path):
    module, _, name = path.rpartition(".")
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize("path", [p for p in PUBLIC_PATHS if p.endswith("Storage")])
def test_migrations_keep_the_public_path(path, settings):
    from django.utils.module_loading import import_string

    storage_class = import_string(path)
    deconstructed = storage_class.__new__(storage_class).deconstruct()[0]
    assert deconstructed == path
