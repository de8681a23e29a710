"""54-FZ receipts on the T-Bank rail (``settings.tbank_receipts``): the e-mail asked at checkout, the ``Receipt``
sent with Init and with every refund's Cancel, and the fiscal documents T-Bank reports back (``Status:
"RECEIPT"`` notifications) kept where an operator can see them.

With receipts off nothing is asked and nothing is sent: checkout ignores an e-mail, Init and Cancel go without a
Receipt, exactly as before. A terminal with an online cash register refuses an Init without a Receipt (309) and a
partial refund without one for the refunded part, so the switch must match the terminal (docs/providers.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from db import payments
from rules.receipts import normalized_email, receipt
from usecases.errors import Refused

if TYPE_CHECKING:
    from psycopg import Connection

    from settings import Settings

# The fields of a RECEIPT notification that tell its fiscal documents apart, most specific first: one payment has
# an Income receipt and an IncomeReturn per refund, each its own event (payment_events.event_key).
_DOCUMENT_FIELDS = ("FiscalDocumentNumber", "FiscalNumber", "ReceiptUrl", "Url")


def checkout_email(settings: Settings, email: str | None) -> str | None:
    """The e-mail to store on a new payment: None with receipts off (whatever was sent), else the normalised
    address; Refused EMAIL_REQUIRED (none given) or INVALID_EMAIL (not an address)."""
    if not settings.tbank_receipts:
        return None
    if email is None or not email.strip():
        raise Refused("EMAIL_REQUIRED", "an e-mail for the receipt is required")
    address = normalized_email(email)
    if address is None:
        raise Refused("INVALID_EMAIL", "the e-mail for the receipt is not a valid address")
    return address


def init_receipt(settings: Settings, payment: dict[str, Any]) -> dict[str, Any] | None:
    """The Receipt of the whole order for Init, or None (receipts off, or a payment without an e-mail)."""
    if not settings.tbank_receipts or not payment.get("email"):
        return None
    return receipt(amount_kopecks=payment["amount_kopecks"], photos=payment["photo_count"], email=payment["email"],
                   taxation=settings.tbank_taxation, tax=settings.tbank_vat)


def refund_receipt(settings: Settings, payment: dict[str, Any], *, amount_kopecks: int,
                   photos: int) -> dict[str, Any] | None:
    """The Receipt of a refund — ``photos`` portraits for ``amount_kopecks`` — for its Cancel, or None (receipts
    off, or a payment made without an e-mail, which the bank fiscalized without us)."""
    if not settings.tbank_receipts or not payment.get("email"):
        return None
    return receipt(amount_kopecks=amount_kopecks, photos=photos, email=payment["email"],
                   taxation=settings.tbank_taxation, tax=settings.tbank_vat)


def event_key(raw: dict[str, Any]) -> str:
    """What makes this RECEIPT notification its own event: its Type and fiscal document (or, lacking one, its
    Amount), so a re-sent notification is a duplicate and a refund's receipt is not."""
    document = next((str(raw[name]) for name in _DOCUMENT_FIELDS if raw.get(name) not in (None, "")),
                    f"amount:{raw.get('Amount')}")
    return f"{raw.get('Type') or 'unknown'}:{document}"[:200]


def record_receipt(conn: Connection, *, payment: dict[str, Any], raw: dict[str, Any],
                   key: str) -> dict[str, Any] | None:
    """Keep the fiscal document a fresh RECEIPT notification reports (type, amount, URL, numbers) on the payment;
    None when it is already recorded."""
    url = raw.get("ReceiptUrl") or raw.get("Url")
    number, document = raw.get("FiscalNumber"), raw.get("FiscalDocumentNumber")
    return payments.insert_receipt(conn, payment_id=payment["id"], kind=str(raw.get("Type") or "unknown")[:40],
                                   amount_kopecks=int(raw["Amount"]), receipt_url=str(url)[:500] if url else None,
                                   fiscal_number=None if number is None else str(number)[:40],
                                   fiscal_document_number=None if document is None else str(document)[:40],
                                   event_key=key)


def receipts_of_payment(conn: Connection, *, payment_id: int) -> list[dict[str, Any]]:
    """The fiscal documents recorded for a payment, oldest first."""
    return payments.receipts_of_payment(conn, payment_id=payment_id)
