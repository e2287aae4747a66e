"""Money (执行款) as ``Decimal`` yuan with at most two decimals (分); results carry it as text ("86000.00").

Text keeps amounts exact through JSON and the engine's data; a gateway can still compare them with
``float(result['balance']) > 0``.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from handlers.base import BusinessRejection

CENT = Decimal("0.01")
LIMIT = Decimal("1e13")          # ten trillion yuan: anything above is a typing error, not a claim


def parse_amount(field: str, value: object, *, allow_zero: bool = False) -> Decimal:
    """Read a money amount given as a number or a decimal string; reject anything inexact or not positive.

    :raises BusinessRejection: with ``details['field'] == field``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise BusinessRejection(f"{field} must be an amount in yuan (a number or a text like '86000.00')",
                                {"field": field, "type": type(value).__name__})
    try:
        amount = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise BusinessRejection(f"{field} is not an amount: {value!r}", {"field": field, "value": str(value)}) from None
    if not amount.is_finite():
        raise BusinessRejection(f"{field} is not a finite amount", {"field": field, "value": str(value)})
    if amount != amount.quantize(CENT):
        raise BusinessRejection(f"{field} has more than two decimals (分): {value}",
                                {"field": field, "value": str(value)})
    if amount < 0 or (amount == 0 and not allow_zero):
        raise BusinessRejection(f"{field} must be greater than 0", {"field": field, "value": str(value)})
    if amount >= LIMIT:
        raise BusinessRejection(f"{field} is implausibly large: {value}", {"field": field, "value": str(value)})
    return amount.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """Plain text with two decimals and no exponent: ``Decimal('8.6E+4')`` → ``'86000.00'``."""
    return format(amount.quantize(CENT, rounding=ROUND_HALF_UP), "f")


def fmt_cn(amount: Decimal) -> str:
    """As documents print it: ``86,000.00``."""
    return format(amount.quantize(CENT, rounding=ROUND_HALF_UP), ",.2f")
