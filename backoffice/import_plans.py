"""What a preview validated, stored beside its file, so that Confirm writes it without validating again.

A bulk resource import's validation (``backoffice.bulk_import.BulkImport.validate``,
the preview) yields an ``ImportPlan``: the typed values of the new rows, the
changed fields of the changed rows with a guard (their ``updated_at``, or the
compared values), counts and errors. ``save_plan`` stores it under
``MEDIA_ROOT/imports/`` next to the preview's file (``<stored name>.plan``),
signed with an HMAC of the project's secret key and bound to the preview: its
token, its user, the file's SHA-256 and the import target. ``load_plan`` gives
it back only when all of these still match (the file unchanged, the same user,
the same preview); otherwise None, and the engine validates the file again.

Confirm then writes the plan (``write_plan``) after checking in bulk that the
records it writes are as they were when validated (new keys still free, the
updated rows' ``updated_at`` — or compared values — unchanged, unique values
still free, referenced records still there). If any changed, ``write_plan``
raises ``PlanOutdated`` before writing anything, and the engine
(``ResourceTarget.run``) checks the file again against the data as it is now,
in the same transaction: it writes only if every row is still good (else the
errors are shown and nothing is written), and the result says "The data
changed since the preview: the file was checked again before importing."
"""

from __future__ import annotations

import hashlib
import hmac
import pickle
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings

from backoffice.bulk_import import PLAN_VERSION, ImportPlan

logger = structlog.get_logger(__name__)
SUFFIX = ".plan"


def plan_path(preview) -> Path:
    return Path(settings.MEDIA_ROOT) / "import-plans" / f"{preview.stored_name}{SUFFIX}"


def _binding(preview) -> bytes:
    return f"{preview.token}:{preview.user_id}:{preview.sha256}:{preview.target}:{PLAN_VERSION}".encode()


def _mac(payload: bytes, preview) -> bytes:
    key = hashlib.sha256(f"import-plan:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, _binding(preview) + b"\0" + payload, hashlib.sha256).digest()


def save_plan(preview, plan: Any) -> bool:
    """Store ``plan`` for ``preview`` (a valid plan of a bulk import only); True if stored."""
    if not isinstance(plan, ImportPlan) or not plan.ok:
        return False
    payload = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    path = plan_path(preview)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".part")
    temporary.write_bytes(_mac(payload, preview) + payload)
    temporary.replace(path)
    return True


def load_plan(preview) -> ImportPlan | None:
    """The plan stored for ``preview`` if it is intact and still bound to it (same token, user, file, target)."""
    path = plan_path(preview)
    try:
        data = path.read_bytes()
    except OSError:
        return None
    mac, payload = data[:32], data[32:]
    if len(mac) != 32 or not hmac.compare_digest(mac, _mac(payload, preview)):
        logger.warning("import.plan_refused", preview_id=getattr(preview, "pk", None), reason="signature")
        return None
    plan = pickle.loads(payload)  # noqa: S301 - signed by this server for this preview (checked above)
    if not isinstance(plan, ImportPlan) or plan.version != PLAN_VERSION or plan.user_id != preview.user_id:
        return None
    return plan


def discard_plan(preview) -> None:
    plan_path(preview).unlink(missing_ok=True)
