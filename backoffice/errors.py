"""Domain errors: one base class, subclasses carrying data.

The admin turns a ``BusinessError`` into an error message; the API turns it
into a 400/409 JSON body ``{"code": ..., "detail": ..., "data": ...}``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


class BusinessError(Exception):
    """A rule of the business refused the operation; nothing was written."""

    code = "business_error"
    http_status = 400

    def __init__(self, message: str = "", **data: Any) -> None:
        self.message = message or self.default_message()
        self.data = data
        super().__init__(self.message)

    def default_message(self) -> str:
        return "The operation was refused."

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.message, "data": self.data}


@dataclass(frozen=True)
class Shortfall:
    """One line that cannot be served: what was asked and what there is."""

    sku: str
    warehouse: str
    requested: int
    available: int

    @property
    def missing(self) -> int:
        return self.requested - self.available

    def __str__(self) -> str:
        return f"{self.sku} @ {self.warehouse}: requested {self.requested}, available {self.available}"


class InsufficientStock(BusinessError):
    """Raised once for a whole request, listing every line that is short."""

    code = "insufficient_stock"
    http_status = 409

    def __init__(self, shortfalls: list[Shortfall], action: str = "", describe=str) -> None:
        self.shortfalls = list(shortfalls)
        what = f"Cannot {action}: " if action else "Insufficient stock: "
        message = what + "; ".join(describe(s) for s in self.shortfalls)
        super().__init__(message, shortfalls=[asdict(s) for s in self.shortfalls])


class InvalidTransition(BusinessError):
    """A document was asked to move to a status its workflow does not allow."""

    code = "invalid_transition"
    http_status = 409


class ValidationFailed(BusinessError):
    """Input that breaks a business rule (quantity, reason, same warehouse...)."""

    code = "validation_failed"


class CreditLimitExceeded(BusinessError):
    """Confirming the order would take the customer's open orders over their credit limit."""

    code = "credit_limit_exceeded"
    http_status = 409


class PermissionRefused(BusinessError):
    """The user's role does not allow this step of a workflow (e.g. approving credit); nothing was written."""

    code = "permission_refused"
    http_status = 403


@dataclass(frozen=True)
class RowError:
    """One problem in an imported file: where it is and what is wrong."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.reason}"


class ImportRejected(BusinessError):
    """An import found bad rows; nothing was written. ``errors`` lists every one."""

    code = "import_rejected"

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(str(e) for e in self.errors[:20])
        more = f" (and {len(self.errors) - 20} more)" if len(self.errors) > 20 else ""
        super().__init__(
            f"Nothing was imported: {len(self.errors)} problem(s): {shown}{more}",
            errors=[asdict(e) for e in self.errors],
        )
