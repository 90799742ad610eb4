"""International Bank Account Numbers: the ISO 13616 mod-97 checksum and the length per country."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# Lengths from the SWIFT IBAN registry; a country not listed is checked by format and checksum only.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip
IBAN_PATTERN = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def compact_iban(value: str) -> str:
    """Without spaces, dashes and dots, upper-case (the form banks print is grouped by four)."""
    return re.sub(r"[\s.\-]", "", str(value or "")).upper()


def iban_checksum_ok(iban: str) -> bool:
    """ISO 7064 mod 97-10: the country code and check digits moved to the end, letters as 10..35, remainder 1."""
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(char, 36)) for char in rearranged)
    return int(digits) % 97 == 1


def validate_iban(value: str) -> None:
    iban = compact_iban(value)
    if not iban:
        return
    if not IBAN_PATTERN.match(iban):
        raise ValidationError(
            "Enter an IBAN: two letters (country), two check digits, then 11 to 30 letters or digits.",
            code="invalid_iban",
        )
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected and len(iban) != expected:
        raise ValidationError(
            "An IBAN from %(country)s has %(expected)d characters, this one has %(actual)d.",
            code="invalid_iban",
            params={"country": iban[:2], "expected": expected, "actual": len(iban)},
        )
    if not iban_checksum_ok(iban):
        raise ValidationError("This IBAN's check digits are wrong: look for a typing error.", code="invalid_iban")


def format_iban(value: str) -> str:
    """Grouped by four for reading: ``DE89 3704 0044 0532 0130 00``."""
    iban = compact_iban(value)
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
