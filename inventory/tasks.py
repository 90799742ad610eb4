"""django-q2 tasks of the inventory app (thin: load, call, report)."""

import logging

from django.conf import settings
from django.core.mail import mail_admins

from backoffice.metrics import STOCK_DISCREPANCIES
from backoffice.task_registry import schedulable
from inventory.selectors import stock_discrepancies

logger = logging.getLogger(__name__)


@schedulable
def check_stock_task() -> int:
    """Nightly check of the stock invariants; e-mails the admins if anything is off."""
    problems = stock_discrepancies()
    STOCK_DISCREPANCIES.inc(len(problems))
    for problem in problems:
        logger.error("stock invariant broken: %s", problem)
    if problems and settings.ADMINS:
        mail_admins(
            f"{len(problems)} stock discrepancies",
            "\n".join(str(p) for p in problems),
        )
    return len(problems)
