"""54-FZ receipts of what PinGlass sells on the T-Bank rail: one item, the order's portraits, as a service paid in
full — for Init (the whole order) and for a partial Cancel (the refunded part only), plus the e-mail they go to.

Pure: amounts in integer kopecks, the taxation system and VAT given by the caller (settings). The bank refuses a
receipt whose items do not sum to the operation's Amount (docs/providers.md#receipts-54-fz), so each receipt here has
exactly one item whose Amount is the operation's.
"""

from __future__ import annotations

import re
from typing import Any

NAME_MAX = 128  # T-Bank's limit on an item's Name
EMAIL_MAX = 254
PAYMENT_METHOD = "full_payment"  # paid in full when the portraits are ordered
PAYMENT_OBJECT = "service"  # the portraits are made to order: a service, not goods
# One "@", no spaces, a dot in the domain: what an ОФД accepts as a receipt's address; the rest is the buyer's.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def normalized_email(text: str | None) -> str | None:
    """The e-mail a receipt can be sent to (trimmed, domain in lower case), or None when ``text`` is not one."""
    candidate = (text or "").strip()
    if len(candidate) > EMAIL_MAX or not _EMAIL.match(candidate):
        return None
    local, domain = candidate.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def item_name(photos: int) -> str:
    """The item as the receipt names it, e.g. "AI-портреты PinGlass, 15 шт." (≤ 128 characters)."""
    return f"AI-портреты PinGlass, {photos} шт."[:NAME_MAX]


def receipt(*, amount_kopecks: int, photos: int, email: str, taxation: str, tax: str) -> dict[str, Any]:
    """A Receipt of one item — ``photos`` portraits for ``amount_kopecks`` — whose sum is that amount: the whole
    order on Init, the refunded portraits and kopecks on a partial Cancel. ValueError on a non-positive amount or
    count, or an e-mail that is not one."""
    if isinstance(amount_kopecks, bool) or not isinstance(amount_kopecks, int) or amount_kopecks <= 0:
        raise ValueError("a receipt's amount must be a positive integer of kopecks")
    if photos <= 0:
        raise ValueError("a receipt counts at least one portrait")
    address = normalized_email(email)
    if address is None:
        raise ValueError("a receipt needs a valid e-mail")
    return {"Email": address, "Taxation": taxation, "Items": [{
        "Name": item_name(photos), "Price": amount_kopecks, "Quantity": 1, "Amount": amount_kopecks, "Tax": tax,
        "PaymentMethod": PAYMENT_METHOD, "PaymentObject": PAYMENT_OBJECT}]}
