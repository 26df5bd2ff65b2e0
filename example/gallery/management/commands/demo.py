"""``manage.py demo``: save uploads through the configured storages, read them back,
run collectstatic, and print what was stored and where."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from gallery.models import Document


def demo_picture() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((8, 8, 56, 56), fill=(12, 75, 51))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def describe(storage) -> str:
    storage = getattr(storage, "_wrapped", storage)  # default_storage is a lazy proxy
    if getattr(storage, "bucket_name", None):
        where = f"s3://{storage.bucket_name}/{storage.location} at {storage.endpoint_url}"
    else:
        where = storage.location
    return f"{storage.deconstruct()[0]} ({where})"  # the public path, as in settings


class Command(BaseCommand):
    help = "Store files through the example project's storages and show where they went."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fetch", action="store_true", help="also fetch each URL over HTTP and compare bytes"
        )

    def handle(self, *args, fetch: bool = False, **options):
        call_command("migrate", verbosity=0, interactive=False)
        text = b"Hello from the storages demo.\n"
        picture = demo_picture()

        document = Document(title="Demo document")
        document.attachment.save("hello.txt", ContentFile(text), save=False)
        # Named .JPG on purpose: the image storage names it by its real format.
        document.picture.save("picture.JPG", ContentFile(picture), save=False)
        document.save()

        document = Document.objects.get(pk=document.pk)
        checks = [(document.attachment, text), (document.picture, picture)]
        self.stdout.write(self.style.MIGRATE_HEADING("Uploads"))
        for field_file, expected in checks:
            with field_file.open("rb") as handle:
                stored = handle.read()
            if stored != expected:
                raise CommandError(f"{field_file.name} came back different from what was saved")
            self.stdout.write(
                f"  {field_file.field.name:<10} {field_file.name}  {field_file.size} bytes, "
                f"read back identical\n"
                f"  {'':<10} storage: {describe(field_file.storage)}\n"
                f"  {'':<10} url: {field_file.url}"
            )
            if fetch:
                self._fetch(field_file.url, expected)
                self._check_private(field_file.url)

        self.stdout.write(self.style.MIGRATE_HEADING("collectstatic"))
        out = io.StringIO()
        call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
        self.stdout.write("  " + out.getvalue().strip().splitlines()[-1])
        self.stdout.write(f"  storage: {describe(staticfiles_storage)}")
        for name in ("gallery/site.css", "admin/css/base.css"):
            url = staticfiles_storage.url(name)
            self.stdout.write(f"  {name} -> {url}")
            if fetch:
                self._fetch(url)
        self.stdout.write(self.style.SUCCESS("Demo finished: every file was stored and read back."))

    def _check_private(self, url: str) -> None:
        """Uploads are private: the same URL without its signature is refused."""
        unsigned = url.split("?", 1)[0]
        if unsigned == url:
            return
        try:
            with urllib.request.urlopen(unsigned, timeout=10):
                raise CommandError(f"{unsigned} is readable without a signature")
        except urllib.error.HTTPError as refusal:
            self.stdout.write(f"  {'':<10} without the signature: HTTP {refusal.code} (private)")

    def _fetch(self, url: str, expected: bytes | None = None) -> None:
        if not url.startswith("http://127.0.0.1"):
            raise CommandError(f"refusing to fetch {url}: only local servers are used")
        with urllib.request.urlopen(url, timeout=10) as reply:
            body = reply.read()
        if expected is not None and body != expected:
            raise CommandError(f"{url} served different bytes")
        self.stdout.write(f"  {'':<10} fetched over HTTP: {reply.status}, {len(body)} bytes")
