"""Browser-direct uploads through the example project's admin, in headless Chromium.

The example project runs under ``manage.py runserver`` with its uploads on
SeaweedFS (S3) or on Azurite, each behind a small TCP proxy on 127.0.0.1
that cuts one connection in the middle of part 2 of the upload (so resuming
after a dropped connection is tested deterministically). A 25 MiB file is
chosen in the admin's ``attachment`` field: it goes from the browser to the
store in parts, and Django's request log (``EXAMPLE_REQUEST_LOG``) shows no
request body over 64 KiB. A ticket tampered with in the page, a file over
the field's limit and a body larger than the one signed for are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

import pytest

from tests import test_e2e_browser
from tests.servers.azure import start_azurite
from tests.servers.gcs import no_metadata_server_environment, start_fake_gcs
from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers
from tests.test_e2e_browser import EXAMPLE, PASSWORD, wait_until

#: The same headless Chromium as the other browser test.
browser = test_e2e_browser.browser

MIB = 1024 * 1024
BIG = 25 * MIB
LIMIT = 30 * MIB
MAX_DJANGO_BODY = 64 * 1024
PER_STORE = ("EXAMPLE_S3_", "EXAMPLE_AZURE_", "EXAMPLE_GCS_")
#: The database and the admin user (static files stay on disk, served by runserver).
SET_UP = (
    "from django.core.management import call_command; call_command('migrate', verbosity=0); "
    "from django.contrib.auth import get_user_model; "
    f"get_user_model().objects.create_superuser('admin', 'admin@example.invalid', {PASSWORD!r})"
)


class DroppingProxy:
    """A TCP proxy to ``target_port`` that drops the first PUT naming ``marker`` mid-body."""

    def __init__(self, target_port: int, marker: str, after: int = 3 * MIB) -> None:
        self.target_port, self.marker, self.after = target_port, marker.encode(), after
        self.dropped = 0
        self._lock = threading.Lock()
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection((LOOPBACK, self.target_port))
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        try:
            self._requests(client, upstream)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def _should_drop(self, request_line: bytes) -> bool:
        with self._lock:
            if (
                self.dropped
                or not request_line.startswith(b"PUT ")
                or self.marker not in request_line
            ):
                return False
            self.dropped = 1
            return True

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward request after request, reading each head and body by its Content-Length."""
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = client.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            drop = self._should_drop(lines[0])
            upstream.sendall(head + b"\r\n\r\n")
            sent = 0
            while sent < length:
                if not buffer:
                    buffer = client.recv(65536)
                    if not buffer:
                        return
                take, buffer = buffer[: length - sent], buffer[length - sent :]
                if drop and sent + len(take) >= self.after:
                    return  # the connection drops mid-body (both sides are closed)
                upstream.sendall(take)
                sent += len(take)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """The example's SQLite database, migrated, with the admin user: made once, copied per site."""
    var = tmp_path_factory.mktemp("direct-database")
    env = {
        **os.environ,
        "EXAMPLE_VAR_DIR": str(var),
        "DJANGO_SETTINGS_MODULE": "exampleproject.settings",
    }
    for name in [name for name in env if name.startswith(PER_STORE)]:
        del env[name]
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SET_UP],
        cwd=EXAMPLE,
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return var / "db.sqlite3"


def run_site(tmp_path_factory, kind: str, database: Path):
    """The example project under runserver, its uploads on ``kind`` behind a DroppingProxy."""
    sys.path.insert(0, str(EXAMPLE))
    import embedded_s3

    port = free_port()
    origin = f"http://{LOOPBACK}:{port}"
    var = tmp_path_factory.mktemp(f"direct-{kind}-var")
    env = {**os.environ, "EXAMPLE_VAR_DIR": str(var), "EXAMPLE_DEBUG": "1"}
    env.update(DJANGO_SETTINGS_MODULE="exampleproject.settings", EXAMPLE_MAX_UPLOAD=str(LIMIT))
    env["EXAMPLE_REQUEST_LOG"] = str(var / "requests.log")
    env["EXAMPLE_LOCAL_STATIC"] = "1"
    for name in [name for name in env if name.startswith(PER_STORE)]:
        del env[name]
    if kind == "s3":
        server, s3_env = embedded_s3.start(str(tmp_path_factory.mktemp("direct-s3")), (origin,))
        target = int(s3_env["EXAMPLE_S3_ENDPOINT"].rsplit(":", 1)[1])
        proxy = DroppingProxy(target, "partNumber=2&")
        env.update(s3_env, EXAMPLE_S3_ENDPOINT=proxy.url)
    elif kind == "gcs":
        # fake-gcs-server: a drop would be resumed by asking the session how much it
        # holds, which fake-gcs-server answers by finishing the object: no drop here.
        env.update(no_metadata_server_environment())
        server = start_fake_gcs()
        server.create_bucket("example")
        proxy = DroppingProxy(int(server.url.rsplit(":", 1)[1]), "never-dropped")
        env.update(EXAMPLE_GCS_ENDPOINT=proxy.url, EXAMPLE_GCS_BUCKET="example")
    else:
        from storages.backends.azure_storage import AzureStorage
        from storages.backends.azure_storage.browser import block_id

        server = start_azurite()
        server.create_container("example")
        AzureStorage(
            connection_string=server.connection_string(), azure_container="example"
        ).allow_browser_uploads([origin])
        proxy = DroppingProxy(server.port, "blockid=" + quote(block_id(2), safe=""))
        connection = server.connection_string().replace(f":{server.port}/", f":{proxy.port}/")
        env.update(EXAMPLE_AZURE_CONNECTION_STRING=connection, EXAMPLE_AZURE_CONTAINER="example")

    web = ServerProcess(
        f"example-runserver-{kind}",
        [
            sys.executable,
            "manage.py",
            "runserver",
            f"{LOOPBACK}:{port}",
            "--noreload",
            "--skip-checks",
        ],
        ready=lambda: port_answers(port),
        env=env,
        cwd=EXAMPLE,
    )
    try:
        shutil.copyfile(database, var / "db.sqlite3")
        web.start()
        yield {"url": origin, "kind": kind, "server": server, "proxy": proxy, "var": var}
    finally:
        web.stop()
        proxy.close()
        (server.process.stop if kind == "gcs" else server.stop)()


@pytest.fixture(scope="module", params=["s3", "azure", "gcs"])
def site(request, tmp_path_factory, database):
    yield from run_site(tmp_path_factory, request.param, database)


def stored_bytes(site, name: str) -> bytes:
    if site["kind"] == "gcs":
        return site["server"].client().bucket("example").blob(f"media/{name}").download_as_bytes()
    if site["kind"] == "s3":
        import boto3

        client = boto3.client("s3", **site["server"].boto3_kwargs())
        return client.get_object(Bucket="example", Key=f"media/{name}")["Body"].read()
    client = site["server"].service_client().get_blob_client("example", f"media/{name}")
    return client.download_blob().readall()


def log_in(site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(site["url"] + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(browser, lambda b: "/login/" not in b.current_url, "the admin after logging in")


def status_text(browser) -> str:
    return browser.execute_script(
        "var s = document.querySelector('.field-attachment .storages-upload-status');"
        "return s ? s.textContent : '';"
    )


def choose(site, browser, path: Path, title: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site["url"] + "/admin/gallery/document/add/")
    browser.find_element(By.NAME, "title").send_keys(title)
    browser.find_element(By.NAME, "attachment").send_keys(str(path))


def request_log(site) -> list[tuple[str, str, int]]:
    lines = (site["var"] / "requests.log").read_text().splitlines()
    return [(method, path, int(size)) for method, path, size in (line.split() for line in lines)]


def test_big_file_goes_straight_to_the_store_and_resumes(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    big = tmp_path / "big report.bin"
    big.write_bytes(os.urandom(BIG))
    log_in(site, browser)
    (site["var"] / "requests.log").write_text("")
    choose(site, browser, big, "Twenty-five MiB")
    browser.find_element(By.NAME, "_continue").click()  # waits for the upload, then posts
    wait_until(browser, lambda b: "was added successfully" in b.page_source, "the document", 90)

    link = browser.find_element(By.CSS_SELECTOR, ".field-attachment a[href]")
    name = link.text
    assert name.startswith("documents/") and name.endswith(".bin") and "big_report_" in name
    stored = stored_bytes(site, name)
    assert hashlib.sha256(stored).digest() == hashlib.sha256(big.read_bytes()).digest()
    # Part 2's connection was cut, and the part sent again (not on fake-gcs-server, see above).
    assert site["proxy"].dropped == (0 if site["kind"] == "gcs" else 1)

    log = request_log(site)
    assert ("POST", "/uploads/direct/") in {(method, path) for method, path, _ in log}
    assert any(path == "/admin/gallery/document/add/" and m == "POST" for m, path, _ in log)
    assert max(size for _, _, size in log) <= MAX_DJANGO_BODY, log


# Not on fake-gcs-server, which checks no size (the server-side tests cover GCS's refusals).
@pytest.mark.parametrize("site", ["s3", "azure"], indirect=True)
def test_tampered_ticket_and_too_large_files_are_refused(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    small = tmp_path / "notes.txt"
    small.write_bytes(b"notes from the browser\n")
    log_in(site, browser)
    choose(site, browser, small, "Tampered")
    wait_until(browser, lambda b: "uploaded: notes.txt" in status_text(b), "the upload")
    browser.execute_script(
        "var t = document.querySelector('input[name=attachment__ticket]');"
        "t.value = t.value.slice(0, -4) + (t.value.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA');"
    )
    browser.find_element(By.NAME, "_save").click()
    wait_until(browser, lambda b: "does not verify" in b.page_source, "the form error")
    assert "was added successfully" not in browser.page_source

    # Over the field's limit: refused before anything is signed or sent.
    too_big = tmp_path / "too big.bin"
    with open(too_big, "wb") as handle:
        handle.truncate(LIMIT + 1)
    choose(site, browser, too_big, "Too big")
    wait_until(browser, lambda b: "not uploaded" in status_text(b), "the refusal")
    assert "larger than the 31,457,280 bytes allowed" in status_text(browser)

    # A body larger than the one signed for: the store itself refuses it.
    answer = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const input = document.querySelector("input[name=attachment]");
        const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
        const ask = body => fetch(input.dataset.storagesUpload, {
            method: "POST", headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
            body: JSON.stringify(Object.assign({rules: input.dataset.storagesRules}, body))
        }).then(r => r.json());
        const body = new Blob([new Uint8Array(9 * 1024 * 1024 + 1)]);
        ask({action: "start", name: "liar.bin", size: 9 * 1024 * 1024, type: ""}).then(plan =>
            ask({action: "parts", ticket: plan.ticket}).then(parts =>
                fetch(parts.parts[1].url, {method: "PUT", body: body.slice(0, 1024 * 1024 + 1)})
            ).then(r => ask({action: "complete", ticket: plan.ticket}).then(c => done(
                {store: r.status, complete: c.error || "completed"}
            )))
        ).catch(error => done({error: String(error)}));
        """
    )
    if site["kind"] == "s3":
        assert answer["store"] == 403  # the part's signed Content-Length does not match
    else:
        assert answer["store"] == 201  # a SAS cannot bound a size: the commit is refused
    assert "incomplete" in answer["complete"]


@pytest.mark.parametrize("site", ["s3"], indirect=True)
def test_without_javascript_the_file_goes_through_django(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    notes = tmp_path / "plain notes.txt"
    notes.write_bytes(b"n" * (100 * 1024))  # over the 64 KiB that direct uploads stay under
    log_in(site, browser)
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        (site["var"] / "requests.log").write_text("")
        choose(site, browser, notes, "No JavaScript")
        browser.find_element(By.NAME, "_continue").click()
        wait_until(browser, lambda b: "was added successfully" in b.page_source, "the document")
        name = browser.find_element(By.CSS_SELECTOR, ".field-attachment a[href]").text
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
    assert name == "documents/" + name.split("/", 1)[1] and name.endswith("plain_notes.txt")
    assert stored_bytes(site, name) == notes.read_bytes()
    log = request_log(site)
    assert not any(path == "/uploads/direct/" for _, path, _ in log)
    assert max(size for _, _, size in log) > len(notes.read_bytes())  # the file came this way
