"""The one endpoint the upload script talks to: start an upload, sign its parts, complete it.

``POST`` with a JSON body ``{"action": "start" | "parts" | "check" | "complete", "rules":
<the field token from the page>, ...}``; CSRF-protected like any form post
(the script sends the form's token). Answers JSON; a refusal is HTTP 400
with ``{"error": <message for the person uploading>}``.
"""

from __future__ import annotations

import json
import logging

from django.core.exceptions import SuspiciousFileOperation
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from storages.uploads import service
from storages.uploads.tickets import FieldRules, InvalidToken

logger = logging.getLogger("storages.uploads")
#: A request to this view carries a few fields, never file content.
MAX_BODY = 16 * 1024


@require_POST
def direct_upload(request: HttpRequest) -> JsonResponse:
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
        return JsonResponse({"error": "request too large"}, status=413)
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return JsonResponse({"error": "the request is not JSON"}, status=400)
    try:
        rules = FieldRules.verify(body.get("rules", ""))
    except InvalidToken as exc:
        return JsonResponse({"error": str(exc)}, status=403)
    action = body.get("action")
    try:
        if action == "start":
            answer = service.start(
                rules,
                str(body.get("name", "")),
                body.get("size"),
                str(body.get("type", "")),
                origin=request.headers.get("Origin") or f"{request.scheme}://{request.get_host()}",
            )
        elif action == "parts":
            answer = service.missing_parts(rules, str(body.get("ticket", "")))
        elif action == "check":
            answer = service.check(rules, str(body.get("ticket", "")))
        elif action == "complete":
            answer = service.complete(rules, str(body.get("ticket", "")))
        else:
            return JsonResponse({"error": f"unknown action {action!r}"}, status=400)
    except (InvalidToken, LookupError) as exc:  # LookupError: the field is gone since
        return JsonResponse({"error": str(exc)}, status=403)
    except SuspiciousFileOperation as exc:  # upload_to leaves no room for a name, say
        logger.warning("Direct upload refused: %s", exc)
        return JsonResponse({"error": "this file can not be named here"}, status=400)
    except service.Unsupported as exc:
        return JsonResponse({"error": str(exc)}, status=501)
    except service.Refused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except OSError:
        logger.exception("Direct upload: the store failed (%s)", action)
        return JsonResponse({"error": "the file store is not answering; try again"}, status=502)
    return JsonResponse(answer)
