"""Who a party is, from their ID: a resident ID number (居民身份证号码, GB 11643) for a person or a unified social
credit code (统一社会信用代码, GB 32100) for an organisation.

Network search (总对总) is keyed by these numbers, and the blacklist must refuse minors (J14 Art 4), which the
birth date inside a resident ID number tells. Check digits are verified so a mistyped number is caught at the
task rather than returning "nothing found".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from handlers.validate import reject

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_RESIDENT = re.compile(r"^\d{17}[\dX]$")
_USCC = re.compile(rf"^[{_USCC_CHARS}]{{18}}$")


@dataclass(frozen=True)
class PartyId:
    value: str
    kind: str                     # "person" (自然人) or "entity" (法人或其他组织)
    birth_date: date | None = None

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


def resident_check_digit(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def parse_party_id(field: str, value: object) -> PartyId:
    """Classify and check ``value``.

    :raises BusinessRejection: when it is neither a valid resident ID number nor a valid credit code.
    """
    if not isinstance(value, str) or not value.strip():
        reject(field, f"{field} must be a resident ID number or a unified social credit code")
    number = value.strip().upper()
    born = _birth_date(number) if _RESIDENT.match(number) else None
    if born is not None and number[17] == resident_check_digit(number[:17]):
        return PartyId(number, "person", born)
    if _USCC.match(number) and number[17] == uscc_check_char(number[:17]):
        return PartyId(number, "entity")
    if born is not None:
        reject(field, f"{field} {number}: the check digit of this ID number is wrong", value=number)
    if _USCC.match(number):
        reject(field, f"{field} {number}: the check character of this credit code is wrong", value=number)
    reject(field, f"{field} {number!r} is neither an 18-character resident ID number nor a unified social "
                  "credit code", value=number)


def _birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None
