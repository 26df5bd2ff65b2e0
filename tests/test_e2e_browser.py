"""The example project as a person uses it: admin, upload, follow the link, delete.

The project runs under ``manage.py runserver`` on 127.0.0.1 with its storages
on an embedded S3 server (SeaweedFS). Debian's headless Chromium, driven
through chromedriver, logs in to the admin, uploads an image through the
``ImageField``, follows the link the admin shows, and checks that the browser
received the very bytes uploaded; then deletes the document and checks that
the object is gone from the bucket.
"""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers

EXAMPLE = Path(__file__).resolve().parent.parent / "example"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "e2e-admin-password"


def picture_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 120, 200)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    sys.path.insert(0, str(EXAMPLE))
    import embedded_s3

    var = tmp_path_factory.mktemp("e2e-var")
    server, s3_env = embedded_s3.start(str(tmp_path_factory.mktemp("e2e-s3")))
    env = {**os.environ, **s3_env, "EXAMPLE_VAR_DIR": str(var), "EXAMPLE_DEBUG": "1"}
    env["DJANGO_SETTINGS_MODULE"] = "exampleproject.settings"
    env.update(DJANGO_SUPERUSER_USERNAME="admin", DJANGO_SUPERUSER_PASSWORD=PASSWORD)

    def manage(*args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=EXAMPLE,
            env=env,
            check=True,
            timeout=300,
            capture_output=True,
        )

    port = free_port()
    web = ServerProcess(
        "example-runserver",
        [sys.executable, "manage.py", "runserver", f"{LOOPBACK}:{port}", "--noreload"],
        ready=lambda: port_answers(port),
        env=env,
        cwd=EXAMPLE,
    )
    try:
        manage("migrate", "--noinput")
        manage("createsuperuser", "--noinput", "--email", "admin@example.invalid")
        manage("collectstatic", "--noinput")
        web.start()
        yield {"url": f"http://{LOOPBACK}:{port}", "s3": server, "env": s3_env}
    finally:
        web.stop()
        server.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(prefix='e2e-chromium-')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def wait_until(browser, condition, what: str, timeout: float = 30) -> None:
    """Wait for the page the last click started to arrive (clicks do not wait)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout).until(condition, message=f"waiting for {what}")


def bucket_keys(site) -> list[str]:
    import boto3

    client = boto3.client("s3", **site["s3"].boto3_kwargs())
    pages = client.get_paginator("list_objects_v2").paginate(Bucket="example", Prefix="media/")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_upload_follow_link_and_delete(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    picture = tmp_path / "holiday.png"
    picture.write_bytes(picture_bytes())
    attachment = tmp_path / "notes.txt"
    attachment.write_bytes(b"notes from the browser\n")

    browser.get(site["url"] + "/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(browser, lambda b: "/login/" not in b.current_url, "the admin after logging in")

    browser.get(site["url"] + "/admin/gallery/document/add/")
    browser.find_element(By.NAME, "title").send_keys("From the browser")
    browser.find_element(By.NAME, "attachment").send_keys(str(attachment))
    browser.find_element(By.NAME, "picture").send_keys(str(picture))
    browser.find_element(By.NAME, "_continue").click()  # save and stay on the change page
    wait_until(browser, lambda b: "was added successfully" in b.page_source, "the saved document")

    keys = bucket_keys(site)
    assert "media/pictures/holiday.png" in keys
    assert any(key.startswith("media/documents/") for key in keys)

    link = browser.find_element(By.CSS_SELECTOR, ".field-picture a[href]")
    assert link.text == "pictures/holiday.png"
    href = link.get_attribute("href")
    assert href.startswith(site["env"]["EXAMPLE_S3_ENDPOINT"]) and "X-Amz-Signature" in href
    change_page = browser.current_url
    link.click()  # follow the link the admin shows, to the bucket
    endpoint = site["env"]["EXAMPLE_S3_ENDPOINT"]
    wait_until(browser, lambda b: b.current_url.startswith(endpoint), "the picture in the bucket")
    received = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        fetch(window.location.href).then(r => r.arrayBuffer()).then(buffer => {
            let text = "";
            for (const byte of new Uint8Array(buffer)) text += String.fromCharCode(byte);
            done(btoa(text));
        }).catch(error => done("error: " + error));
        """
    )
    assert base64.b64decode(received) == picture.read_bytes()

    unsigned = href.split("?", 1)[0]
    with pytest.raises(urllib.error.HTTPError) as refusal:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refusal.value.code == 403  # private by default

    assert change_page.endswith("/change/")
    browser.get(change_page.replace("/change/", "/delete/"))
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(browser, lambda b: "was deleted successfully" in b.page_source, "the deletion")
    assert bucket_keys(site) == []
