"""storages.uploads, server side: tickets, the stores' refusals, the check on submit, the command.

The browser's part is played by ``requests`` (the same POST form and PUTs the
script sends) against SeaweedFS and Azurite, which check every signature;
the end-to-end test in Chromium is tests/test_e2e_direct_uploads.py.
"""

from __future__ import annotations

import io
import json
import time

import pytest
import requests
from django import forms
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import include, path

from storages.uploads import DirectFileField, direct_upload_formfield
from storages.uploads.abandoned import looks_like_ours
from storages.uploads.naming import is_within, static_prefix, upload_name
from storages.uploads.tickets import FieldRules, Ticket
from tests.servers.azure import ACCOUNT_NAME
from tests.testapp.models import MyStorage

urlpatterns = [path("uploads/", include("storages.uploads.urls"))]
pytestmark = pytest.mark.django_db
MIB = 1024 * 1024
ENDPOINT = "/uploads/direct/"


@pytest.fixture(autouse=True)
def urlconf(settings):
    settings.ROOT_URLCONF = __name__  # tests.settings has none


@pytest.fixture(params=["s3", "azure"])
def store(request, settings):
    """STORAGES with ``default`` and ``uploads`` on one store; returns its kind."""
    if request.param == "s3":
        options = request.getfixturevalue("seaweed_options")
        backend = "storages.backends.s3.S3Storage"
    else:
        server = request.getfixturevalue("azurite_server")
        container = request.getfixturevalue("azure_container")
        options = {"connection_string": server.connection_string(), "azure_container": container}
        backend = "storages.backends.azure_storage.AzureStorage"
    settings.STORAGES = {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "uploads": {"BACKEND": backend, "OPTIONS": options},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return request.param


def uploads_storage():
    from django.core.files.storage import storages

    return storages["uploads"]


class UploadForm(forms.Form):
    document = DirectFileField(
        storage="uploads", upload_to="incoming/%Y", max_size=12 * MIB, content_types=["text/*"]
    )


class BinaryForm(forms.Form):
    document = DirectFileField(storage="uploads", upload_to="blobs", max_size=12 * MIB)


class MyStorageForm(forms.ModelForm):
    class Meta:
        model = MyStorage
        fields = ["normal"]
        formfield_callback = direct_upload_formfield


def rules_of(form_class) -> FieldRules:
    return form_class.base_fields["document"].rules


def ask(client, rules, **body):
    answer = client.post(
        ENDPOINT, json.dumps({"rules": rules.sign(), **body}), content_type="application/json"
    )
    return answer.status_code, answer.json()


def browser_upload(client, rules, filename, data, content_type="text/plain", lie_size=None):
    """What direct_uploads.js does: start, send to the store, complete; returns the plan."""
    size = len(data) if lie_size is None else lie_size
    status, plan = ask(client, rules, action="start", name=filename, size=size, type=content_type)
    assert status == 200, plan
    if plan["protocol"] == "post":
        answer = requests.post(
            plan["url"], data=plan["fields"], files={"file": (filename, data)}, timeout=30
        )
        plan["store_status"] = answer.status_code
        return plan
    status, parts = ask(client, rules, action="parts", ticket=plan["ticket"])
    assert status == 200, parts
    step = parts["part_size"]
    for part in parts["parts"]:
        chunk = data[(part["n"] - 1) * step : part["n"] * step]
        answer = requests.request(part["method"], part["url"], data=chunk, timeout=30)
        assert answer.status_code in (200, 201), answer.text
    plan["complete"] = ask(client, rules, action="complete", ticket=plan["ticket"])
    return plan


def submit(form_class, ticket):
    return form_class(data={"document__ticket": ticket}, files={})


# --- names ---------------------------------------------------------------------------


def test_the_server_names_the_file():
    name = upload_name("documents/%Y/%m", "../../etc/pass wd.txt", 100)
    directory, _, base = name.rpartition("/")
    assert directory.startswith("documents/") and directory.count("/") == 2
    assert base.startswith("pass_wd_") and base.endswith(".txt") and looks_like_ours(name)
    assert len(upload_name("d", "x" * 300 + ".pdf", 100)) <= 100
    assert upload_name("", "..", 50).startswith("file_")
    assert static_prefix("documents/%Y/%m") == "documents"
    assert is_within("documents/2026/a.txt", "documents")
    assert not is_within("documents2/a.txt", "documents")
    assert not is_within("documents/../a.txt", "documents")


# --- the happy paths, on both stores -------------------------------------------------


def test_small_file_goes_to_the_store_and_the_form_takes_its_ticket(store, client):
    rules = rules_of(UploadForm)
    plan = browser_upload(client, rules, "notes.txt", b"from the browser\n")
    if store == "s3":
        assert plan["protocol"] == "post" and plan["store_status"] == 204
    else:
        assert plan["protocol"] == "parts" and plan["complete"][0] == 200
    form = submit(UploadForm, plan["ticket"])
    assert form.is_valid(), form.errors
    name = form.cleaned_data["document"]
    assert name == plan["name"] and name.startswith("incoming/") and name.endswith(".txt")
    with uploads_storage().open(name) as stored:
        assert stored.read() == b"from the browser\n"


def test_large_file_goes_in_parts_and_resumes(store, client):
    rules = rules_of(BinaryForm)
    data = bytes(range(256)) * (9 * MIB // 256 + 7)
    status, plan = ask(client, rules, action="start", name="big.bin", size=len(data), type="")
    assert status == 200 and plan["protocol"] == "parts"
    status, parts = ask(client, rules, action="parts", ticket=plan["ticket"])
    assert [part["n"] for part in parts["parts"]] == [1, 2]
    first = parts["parts"][0]
    # A part of another length than signed is refused by S3 itself.
    if store == "s3":
        wrong = requests.put(first["url"], data=data[: 5 * MIB], timeout=30)
        assert wrong.status_code == 403
    assert requests.put(first["url"], data=data[: parts["part_size"]], timeout=30).ok
    # The connection dropped here: asking again gives only the part still missing.
    status, again = ask(client, rules, action="parts", ticket=plan["ticket"])
    assert [part["n"] for part in again["parts"]] == [2] and again["stored"] == 1
    # Completing early is refused, and stores nothing.
    status, early = ask(client, rules, action="complete", ticket=plan["ticket"])
    assert status == 400 and "incomplete" in early["error"]
    assert not submit(BinaryForm, plan["ticket"]).is_valid()
    assert requests.put(again["parts"][0]["url"], data=data[parts["part_size"] :], timeout=30).ok
    assert ask(client, rules, action="complete", ticket=plan["ticket"])[0] == 200
    form = submit(BinaryForm, plan["ticket"])
    assert form.is_valid(), form.errors
    with uploads_storage().open(form.cleaned_data["document"]) as stored:
        assert stored.read() == data


# --- refusals --------------------------------------------------------------------------


def test_refused_before_anything_is_signed(store, client):
    rules = rules_of(UploadForm)
    status, answer = ask(
        client, rules, action="start", name="a.txt", size=13 * MIB, type="text/plain"
    )
    assert status == 400 and "larger" in answer["error"]
    status, answer = ask(client, rules, action="start", name="a.html", size=3, type="image/png")
    assert status == 400 and "not allowed" in answer["error"]
    forged = client.post(
        ENDPOINT,
        json.dumps({"rules": rules.sign() + "x", "action": "start", "size": 1}),
        content_type="application/json",
    )
    assert forged.status_code == 403
    assert client.post(ENDPOINT, "{", content_type="application/json").status_code == 400
    assert client.get(ENDPOINT).status_code == 405


def test_the_store_refuses_more_than_declared(settings, seaweed_options, client):
    settings.STORAGES = {
        "uploads": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": seaweed_options}
    }
    rules = rules_of(UploadForm)
    plan = browser_upload(client, rules, "a.txt", b"x" * 2048, lie_size=1024)
    assert plan["store_status"] == 400  # EntityTooLarge, from the policy
    # Another key, another type: the policy does not match.
    fields = {**plan["fields"], "key": plan["fields"]["key"].replace("incoming/", "other/")}
    answer = requests.post(plan["url"], data=fields, files={"file": ("a.txt", b"x")}, timeout=30)
    assert answer.status_code == 403
    fields = {**plan["fields"], "Content-Type": "text/html"}
    answer = requests.post(plan["url"], data=fields, files={"file": ("a.txt", b"x")}, timeout=30)
    assert answer.status_code == 403
    form = submit(UploadForm, plan["ticket"])
    assert not form.is_valid() and "did not finish" in str(form.errors)


def test_the_sas_writes_that_blob_only(azurite_server, azure_container, settings, client):
    options = {
        "connection_string": azurite_server.connection_string(),
        "azure_container": azure_container,
    }
    settings.STORAGES = {
        "uploads": {"BACKEND": "storages.backends.azure_storage.AzureStorage", "OPTIONS": options}
    }
    rules = rules_of(UploadForm)
    status, plan = ask(client, rules, action="start", name="a.txt", size=3, type="text/plain")
    status, parts = ask(client, rules, action="parts", ticket=plan["ticket"])
    url = parts["parts"][0]["url"]
    assert f"/{ACCOUNT_NAME}/{azure_container}/incoming/" in url
    other = url.replace("/incoming/", "/elsewhere/", 1)
    assert requests.put(other, data=b"abc", timeout=30).status_code == 403
    # A block larger than declared: nothing is committed.
    assert requests.put(url, data=b"abcd", timeout=30).status_code == 201
    status, _answer = ask(client, rules, action="complete", ticket=plan["ticket"])
    assert status == 400 and not uploads_storage().exists(plan["name"])


def test_tampered_foreign_expired_and_outside_tickets_are_refused(store, client, monkeypatch):
    rules = rules_of(UploadForm)
    plan = browser_upload(client, rules, "notes.txt", b"hello")
    ticket = plan["ticket"]
    payload = signing.loads(ticket, salt="storages.uploads.ticket")

    # The name changed in the ticket's payload: the signature no longer matches.
    _head, _, tail = ticket.partition(":")
    tampered = signing.dumps({**payload, "name": "incoming/other.txt"}, compress=True)
    form = submit(UploadForm, tampered.partition(":")[0] + ":" + tail)
    assert not form.is_valid() and "does not verify" in str(form.errors)
    assert not submit(UploadForm, ticket[:-2] + "xx").is_valid()

    # A ticket of another field (other rules) is not taken.
    form = submit(BinaryForm, ticket)
    assert not form.is_valid() and "another field" in str(form.errors)

    # Signed by us, but naming a file outside the prefix (say upload_to changed).
    outside = Ticket(**{**payload, "name": "elsewhere/notes_abcdefabcdef.txt"}).sign()
    form = submit(UploadForm, outside)
    assert not form.is_valid() and "outside" in str(form.errors)

    # Stored, but not the size declared: refused, and the stored file removed.
    liar = Ticket(**{**payload, "size": 4}).sign()
    form = submit(UploadForm, liar)
    assert not form.is_valid() and "not the one declared" in str(form.errors)
    assert not uploads_storage().exists(plan["name"])

    later = time.time() + 3601
    monkeypatch.setattr(signing.time, "time", lambda: later)
    form = submit(UploadForm, ticket)
    assert not form.is_valid() and "expired" in str(form.errors)


def test_without_javascript_the_file_goes_through_django(store):
    form = UploadForm(files={"document": SimpleUploadedFile("a.txt", b"plain", "text/plain")})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["document"].read() == b"plain"
    big = SimpleUploadedFile("a.txt", b"x", "text/plain")
    big.size = 13 * MIB
    assert "larger" in str(UploadForm(files={"document": big}).errors)
    html = SimpleUploadedFile("a.html", b"<p>", "text/html")
    assert UploadForm(files={"document": html}).is_valid()
    png = SimpleUploadedFile("a.png", b"x", "image/png")
    assert "not allowed" in str(UploadForm(files={"document": png}).errors)


def test_model_form_renders_the_widget_and_saves_the_name(store, client):
    form = MyStorageForm()
    field = form.fields["normal"]
    assert isinstance(field, DirectFileField)
    html = str(form["normal"])
    assert 'data-storages-upload="/uploads/direct/"' in html and "normal__ticket" in html
    assert "direct_uploads.js" in str(form.media)
    plan = browser_upload(client, field.rules, "report.txt", b"quarterly")
    form = MyStorageForm(data={"normal__ticket": plan["ticket"]}, files={})
    assert form.is_valid(), form.errors
    saved = form.save()
    assert saved.normal.name == plan["name"] and saved.normal.name.startswith("tests/")
    assert saved.normal.read() == b"quarterly"


# --- storage_abandoned ----------------------------------------------------------------


def test_storage_abandoned_lists_then_deletes(store, client):
    rules = MyStorageForm.base_fields["normal"].rules
    kept = browser_upload(client, rules, "kept.txt", b"kept")
    MyStorage.objects.create(normal=kept["name"])
    never_submitted = browser_upload(client, rules, "left.txt", b"left")
    data = b"p" * (9 * MIB)
    _status, unfinished = ask(
        client, rules, action="start", name="half.bin", size=len(data), type=""
    )
    _status, parts = ask(client, rules, action="parts", ticket=unfinished["ticket"])
    assert requests.put(parts["parts"][0]["url"], data=data[: parts["part_size"]], timeout=30).ok
    from django.core.files.storage import default_storage

    default_storage.save("tests/plain-file.txt", io.BytesIO(b"not an upload of ours"))

    def run(*args):
        out = io.StringIO()
        call_command("storage_abandoned", "testapp.MyStorage.normal", *args, stdout=out)
        return out.getvalue()

    assert "0 abandoned uploads" in run()  # younger than the tickets' lifetime
    listing = run("--older-than", "0")
    assert f"unreferenced {never_submitted['name']}" in listing
    assert f"unfinished   {unfinished['name']}" in listing
    assert kept["name"] not in listing and "plain-file" not in listing
    assert "2 abandoned uploads (dry run" in listing
    assert default_storage.exists(never_submitted["name"])
    assert "2 abandoned uploads deleted." in run("--older-than", "0", "--delete")
    assert not default_storage.exists(never_submitted["name"])
    assert default_storage.exists(kept["name"]) and default_storage.exists("tests/plain-file.txt")
    assert "0 abandoned uploads" in run("--older-than", "0")


def test_check_tells_whether_the_store_has_the_file(store, client):
    """What the script asks when the store's answer is hidden from the page (no CORS)."""
    rules = rules_of(UploadForm)
    status, plan = ask(client, rules, action="start", name="a.txt", size=5, type="text/plain")
    assert ask(client, rules, action="check", ticket=plan["ticket"]) == (200, {"stored": False})
    uploads_storage().save(plan["name"], io.BytesIO(b"12345"))  # as the store took it
    assert ask(client, rules, action="check", ticket=plan["ticket"]) == (200, {"stored": True})
    status, _answer = ask(client, rules, action="check", ticket=plan["ticket"] + "x")
    assert status == 403


def test_a_storage_that_cannot_sign_gets_a_plain_upload(settings, client, tmp_path):
    settings.STORAGES = {
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    }
    html = str(UploadForm()["document"])
    assert 'type="file"' in html and "data-storages-upload" not in html
    status, _answer = ask(
        client, rules_of(UploadForm), action="start", name="a.txt", size=1, type="text/plain"
    )
    assert status == 501  # the script then leaves the file to the form
    form = UploadForm(files={"document": SimpleUploadedFile("a.txt", b"x", "text/plain")})
    assert form.is_valid(), form.errors


def test_s3_uploads_get_the_storages_object_parameters(settings, seaweed_options, client):
    object_parameters = {"CacheControl": "max-age=60", "Metadata": {"owner": "alice"}}
    settings.STORAGES = {
        "uploads": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**seaweed_options, "object_parameters": object_parameters},
        }
    }
    storage = uploads_storage()
    for data in (b"small", b"L" * (9 * MIB)):
        plan = browser_upload(client, rules_of(UploadForm), "a.txt", data)
        assert plan.get("store_status", 204) == 204 and plan.get("complete", (200,))[0] == 200
        head = storage.connection.head_object(
            Bucket=storage.bucket_name, Key=storage._key(plan["name"])
        )
        assert head["CacheControl"] == "max-age=60" and head["Metadata"] == {"owner": "alice"}
        assert head["ContentType"] == "text/plain" and head["ContentLength"] == len(data)


def test_gcs_resumable_session(gcs_server, gcs_bucket, settings, client):
    settings.STORAGES = {
        "uploads": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": gcs_server.storage_options(gcs_bucket),
        }
    }
    rules = rules_of(BinaryForm)
    data = bytes(range(256)) * (9 * MIB // 256) + b"tail"
    status, plan = ask(client, rules, action="start", name="big.bin", size=len(data), type="")
    assert status == 200 and plan["protocol"] == "session" and plan["part_size"] == 8 * MIB
    assert ask(client, rules, action="parts", ticket=plan["ticket"])[0] == 403  # not parts
    assert ask(client, rules, action="check", ticket=plan["ticket"])[1] == {"stored": False}
    offset, step = 0, plan["part_size"]
    while offset < len(data):  # what the script sends: chunks in order
        end = min(offset + step, len(data))
        answer = requests.put(
            plan["url"],
            data=data[offset:end],
            headers={"Content-Range": f"bytes {offset}-{end - 1}/{len(data)}"},
            timeout=30,
        )
        assert answer.status_code == (308 if end < len(data) else 200), answer.text
        offset = end
    assert ask(client, rules, action="check", ticket=plan["ticket"])[1] == {"stored": True}
    form = submit(BinaryForm, plan["ticket"])
    assert form.is_valid(), form.errors
    with uploads_storage().open(form.cleaned_data["document"]) as stored:
        assert stored.read() == data


def test_allow_browser_uploads_writes_the_stores_cors_rule(seaweed_options, azurite_server):
    from storages.backends.azure_storage import AzureStorage
    from storages.backends.s3 import S3Storage

    site = "http://127.0.0.1:8123"
    s3 = S3Storage(**seaweed_options)
    s3.allow_browser_uploads([site])
    s3.allow_browser_uploads([site])  # replaced, not added twice
    rules = s3.connection.get_bucket_cors(Bucket=s3.bucket_name)["CORSRules"]
    ours = [rule for rule in rules if rule.get("AllowedOrigins") == [site]]
    assert len(ours) == 1 and set(ours[0]["AllowedMethods"]) == {"POST", "PUT"}
    preflight = requests.options(
        f"{s3.endpoint_url}/{s3.bucket_name}/x",
        headers={"Origin": site, "Access-Control-Request-Method": "PUT"},
        timeout=10,
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == site

    azure = AzureStorage(
        connection_string=azurite_server.connection_string(), azure_container="anything"
    )
    azure.allow_browser_uploads([site])
    azure.allow_browser_uploads([site])
    cors = azure.service_client.get_service_properties()["cors"]
    assert [rule.allowed_origins for rule in cors].count(site) == 1


def test_admin_mixin_gives_its_file_fields_the_direct_field(store):
    from django.contrib import admin

    from storages.uploads import AdminDirectUploadWidget, DirectUploadsAdminMixin
    from storages.uploads.fields import registered_fields

    class MyStorageAdmin(DirectUploadsAdminMixin, admin.ModelAdmin):
        direct_upload_fields = ("normal",)

    model_admin = MyStorageAdmin(MyStorage, admin.AdminSite())
    assert "testapp.MyStorage.normal" in registered_fields
    field = model_admin.formfield_for_dbfield(MyStorage._meta.get_field("normal"), None)
    assert isinstance(field, DirectFileField)
    assert isinstance(field.widget, AdminDirectUploadWidget)
    assert field.rules.model_field == "testapp.MyStorage.normal"
    assert field.rules.upload_to == "tests"
    other = model_admin.formfield_for_dbfield(MyStorage._meta.get_field("default"), None)
    assert not isinstance(other, DirectFileField)


def test_stale_or_unnamable_rules_are_refused_cleanly(store, client):
    gone = FieldRules(model_field="testapp.Gone.file", upload_to="x", max_size=10)
    assert ask(client, gone, action="start", name="a.txt", size=1, type="")[0] == 403
    cramped = FieldRules(storage="uploads", upload_to="a" * 90, max_size=10, max_length=100)
    status, answer = ask(client, cramped, action="start", name="a.txt", size=1, type="")
    assert status == 400 and "can not be named" in answer["error"]
