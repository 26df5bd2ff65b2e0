"""The form field and widget: the file goes from the browser to the store, the form sends its name.

With JavaScript, the widget's script uploads the chosen file straight to the
store (see ``storages/static/storages/direct_uploads.js``) and puts the
upload's signed ticket in a hidden input; the file input is emptied, so the
form post carries no file. Without JavaScript (or where the upload endpoint
cannot be reached) the same ``<input type="file">`` uploads through Django
as with any ``FileField``, under the same limits.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.urls import NoReverseMatch, reverse

from storages.uploads import service
from storages.uploads.tickets import FieldRules
from storages.utils import setting

logger = logging.getLogger("storages.uploads")
TICKET_SUFFIX = "__ticket"
#: The largest file a field takes unless told (``DIRECT_UPLOADS_MAX_SIZE``).
DEFAULT_MAX_SIZE = 1024**3
#: ``app_label.ModelName.field`` of every model field given a direct-upload form field.
registered_fields: set[str] = set()


class SubmittedTicket(str):
    """The ticket the form sent back instead of a file."""


class DirectUploadWidget(forms.ClearableFileInput):
    template_name = "storages/direct_upload_widget.html"
    #: The file input's own template (the admin's for :class:`AdminDirectUploadWidget`).
    file_input_template = "django/forms/widgets/clearable_file_input.html"
    rules: FieldRules | None = None

    class Media:
        js = ("storages/direct_uploads.js",)

    def ticket_name(self, name: str) -> str:
        return name + TICKET_SUFFIX

    def format_value(self, value: Any) -> Any:
        return None if isinstance(value, SubmittedTicket) else super().format_value(value)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        widget["file_input_template"] = self.file_input_template
        widget["ticket_name"] = self.ticket_name(name)
        widget["ticket"] = str(value) if isinstance(value, SubmittedTicket) else ""
        try:
            endpoint = reverse("storages-direct-upload")
        except NoReverseMatch:
            logger.warning(
                "Direct uploads are off for %r: add path('uploads/', "
                "include('storages.uploads.urls')) to the URLconf",
                name,
            )
            return context  # a plain file input
        if self.rules is not None and service.supports_browser_uploads(self.rules.get_storage()):
            widget["attrs"]["data-storages-upload"] = endpoint
            widget["attrs"]["data-storages-rules"] = self.rules.sign()
            widget["attrs"]["data-storages-ticket"] = self.ticket_name(name)
        return context

    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        ticket = data.get(self.ticket_name(name))
        if ticket:
            self.checked = False
            return SubmittedTicket(ticket)
        return super().value_from_datadict(data, files, name)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return not data.get(self.ticket_name(name)) and super().value_omitted_from_data(
            data, files, name
        )


class AdminDirectUploadWidget(DirectUploadWidget):
    file_input_template = "admin/widgets/clearable_file_input.html"


class DirectFileField(forms.FileField):
    """A ``FileField`` whose file the browser uploads straight to the storage.

    From a model field: ``DirectFileField(model_field=Document._meta.get_field("attachment"))``
    (what :func:`direct_upload_formfield` and the admin mixin do). Otherwise
    ``storage=<STORAGES alias>`` and ``upload_to``. ``max_size`` (bytes) and
    ``content_types`` (``["image/*", "application/pdf"]``) bound what is taken,
    in the store and on submit.
    """

    widget = DirectUploadWidget
    default_error_messages = {
        "direct_upload": "%(reason)s",
        "too_large": "The file is larger than the %(limit)s bytes allowed.",
        "type": "Files of type %(type)s are not allowed here.",
    }

    def __init__(
        self,
        *,
        model_field: Any = None,
        storage: str = "",
        upload_to: str = "",
        max_size: int | None = None,
        content_types: Any = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if model_field is not None:
            upload_to = model_field.upload_to
            label = f"{model_field.model._meta.label}.{model_field.name}"
            registered_fields.add(label)
        else:
            label = ""
            if not storage:
                raise ImproperlyConfigured("DirectFileField needs model_field or storage")
        if callable(upload_to):
            raise ImproperlyConfigured(
                f"DirectFileField for {label or storage!r}: a callable upload_to can not name "
                "browser uploads (it needs the instance, which does not exist yet); give a "
                "directory (strftime codes allowed)."
            )
        if max_size is None:
            max_size = int(setting("DIRECT_UPLOADS_MAX_SIZE", DEFAULT_MAX_SIZE))
        self.rules = FieldRules(
            model_field=label,
            storage="" if label else storage,
            upload_to=str(upload_to or ""),
            max_size=int(max_size),
            content_types=tuple(content_types or ()),
            max_length=self.max_length,
        )
        self.widget.rules = self.rules

    def __deepcopy__(self, memo: dict[int, Any]) -> DirectFileField:
        result = super().__deepcopy__(memo)
        result.widget.rules = self.rules
        return result

    def clean(self, data: Any, initial: Any = None) -> Any:
        if isinstance(data, SubmittedTicket):
            try:
                return service.accepted_name(self.rules, data)
            except service.Refused as exc:
                raise ValidationError(
                    self.error_messages["direct_upload"],
                    code="direct_upload",
                    params={"reason": str(exc)[:1].upper() + str(exc)[1:] + "."},
                ) from exc
        return super().clean(data, initial)

    def to_python(self, data: Any) -> Any:
        """A file uploaded through Django (no JavaScript): the same limits."""
        data = super().to_python(data)
        if data is None:
            return None
        if self.rules.max_size and data.size > self.rules.max_size:
            raise ValidationError(
                self.error_messages["too_large"],
                code="too_large",
                params={"limit": f"{self.rules.max_size:,}"},
            )
        content_type = getattr(data, "content_type", "") or service.DEFAULT_TYPE
        if not self.rules.allows_type(content_type):
            raise ValidationError(
                self.error_messages["type"], code="type", params={"type": content_type}
            )
        return data

    def bound_data(self, data: Any, initial: Any) -> Any:
        # Shown again after another field's error: the upload is kept, not redone.
        return data if isinstance(data, SubmittedTicket) else super().bound_data(data, initial)

    def has_changed(self, initial: Any, data: Any) -> bool:
        return isinstance(data, SubmittedTicket) or super().has_changed(initial, data)


def wants_direct_upload(db_field: Any) -> bool:
    from django.db import models

    return isinstance(db_field, models.FileField) and not isinstance(db_field, models.ImageField)


def direct_upload_formfield(db_field: Any, **kwargs: Any) -> Any:
    """A ``Meta.formfield_callback`` for ModelForms: direct uploads for (non-image) FileFields."""
    if wants_direct_upload(db_field):
        kwargs.pop("widget", None)
        return db_field.formfield(form_class=DirectFileField, model_field=db_field, **kwargs)
    return db_field.formfield(**kwargs)


class DirectUploadsAdminMixin:
    """For a ``ModelAdmin`` (or an inline): its FileFields upload straight to their storage.

    ``direct_upload_fields``: the names to do it for (default: every FileField
    that is not an ImageField).
    """

    direct_upload_fields: tuple[str, ...] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # self.model: the admin's model, or an inline's own (not its parent's).
        for db_field in self.model._meta.get_fields():
            if self._direct(db_field):
                registered_fields.add(f"{self.model._meta.label}.{db_field.name}")

    def _direct(self, db_field: Any) -> bool:
        if self.direct_upload_fields is not None:
            return db_field.name in self.direct_upload_fields and hasattr(db_field, "upload_to")
        return wants_direct_upload(db_field)

    def formfield_for_dbfield(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if self._direct(db_field):
            kwargs["widget"] = AdminDirectUploadWidget
            return db_field.formfield(form_class=DirectFileField, model_field=db_field, **kwargs)
        return super().formfield_for_dbfield(db_field, request, **kwargs)
