"""Amounts as a reader writes them: Norwegian ``1 234 567,50``, or English ``1,234,567.50``.

Norwegian groups thousands with a space and marks decimals with a comma
(Språkrådet's rule for numbers). The space is a no-break space, so an amount
never wraps across a line in a page or a table. A zero is always ``0,00``: a
negative zero is an artefact of a sign turned on nothing, never a figure.
"""

from __future__ import annotations

from decimal import Decimal

#: the thousands separator in Norwegian amounts: a no-break space (U+00A0), so ``1 234`` never breaks
THOUSANDS = "\u00a0"
LANGUAGES = ("nb", "en")


def amount(value: Decimal, lang: str = "nb") -> str:
    """``-1234.5`` as ``-1 234,50`` (nb) or ``-1,234.50`` (en); ``-0.00`` as ``0,00``."""
    value = value.quantize(Decimal("0.01"))
    if not value:
        value = abs(value)
    text = f"{value:,.2f}"
    if lang == "en":
        return text
    return text.replace(",", THOUSANDS).replace(".", ",")
