"""24SevenOffice's services and SOAP records, mapped to canonical rows.

Every fact here is sourced in ``docs/connectors/24sevenoffice.md``; guesses are marked there.

* ``posting_id``: the line's ``Id`` (a GUID) in compact form: its hex digits
  without dashes or leading zeros, so ``00000000-0000-0000-0000-00000000012a``
  is ``12a``. The form is reversible (pad to 32 digits) and keeps keys short.
* ``voucher_number``: ``TransactionNo``; ``voucher_date``: ``Date``'s day.
* ``amount``: ``Amount``, in the company's currency. ``amount_currency`` is
  ``Amount * CurrencyUnit / CurrencyRate`` for lines in another currency
  (a rate quoted per ``CurrencyUnit`` units, as Norges Bank quotes SEK per 100:
  a guess, the unit's meaning is not documented).
* ``Dimensions/Dimension[Type, Value]``: Department, Project and Customer go to
  ``department``, ``project`` and ``customer``; a Customer dimension of a
  supplier invoice or credit note (``SystemType``) goes to ``supplier``, for
  24SevenOffice keeps customers and suppliers as one kind of CRM company.
  Employee and Product go to ``free_dimension_1`` and ``free_dimension_2``.
* ``source_changed_at``: ``DateChanged``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from osr_pipelines.connectors.base import Row, account_type
from osr_pipelines.connectors.soap import child_text

AUTH_NS = "http://24sevenOffice.com/webservices"
ACCOUNTING_NS = "http://24sevenoffice.com/webservices/economy/accounting/"


@dataclass(frozen=True)
class Service:
    """One SOAP service: its domain (``api`` or ``webservices``), path and target namespace."""

    domain: str
    path: str
    namespace: str

    def action(self, operation: str) -> str:
        """The operation's ``SOAPAction``: the namespace and the operation's name."""
        return f"{self.namespace.rstrip('/')}/{operation}"


#: The services' addresses and namespaces as their WSDLs state them (``soap:address``, ``targetNamespace``).
SERVICES = {
    "auth": Service("api", "/authenticate/v001/authenticate.asmx", AUTH_NS),
    "transaction": Service("api", "/Economy/Accounting/V001/TransactionService.asmx", ACCOUNTING_NS),
    "account": Service("api", "/Economy/Account/V004/Accountservice.asmx", AUTH_NS),
    "client": Service("api", "/Client/V001/ClientService.asmx", AUTH_NS),
    "company": Service("api", "/CRM/Company/V001/CompanyService.asmx", AUTH_NS),
    "project": Service("webservices", "/Project/V001/ProjectService.asmx", AUTH_NS),
}

#: ``SystemType`` values of supplier documents, whose Customer dimension names a supplier.
SUPPLIER_SYSTEM_TYPES = frozenset({"InvoiceSupplier", "CreditnoteSupplier"})
#: Canonical posting columns of each dimension type (indexes into the posting tuple).
DIMENSION_COLUMN = {"Department": 9, "Project": 10, "Customer": 11, "Employee": 13, "Product": 14}
_SUPPLIER_COLUMN = 12

_T = ACCOUNTING_NS
_TAG = {name: f"{{{_T}}}{name}" for name in (
    "Id", "TransactionNo", "Date", "AccountNo", "Amount", "Currency", "CurrencyRate", "CurrencyUnit", "Comment",
    "SystemType", "DateChanged", "Dimensions", "Dimension", "Type", "Value")}
_DIMENSION_PATH = f"{_TAG['Dimensions']}/{_TAG['Dimension']}"


def compact_guid(value: str) -> str:
    """A GUID's hex digits without dashes or leading zeros (``0`` for the empty GUID)."""
    return value.replace("-", "").lower().lstrip("0") or "0"


def map_transaction(element: etree._Element, currency: str) -> Row:
    """One ``Transaction`` element as a canonical posting tuple; ``currency`` is the company's.

    Raises ``KeyError`` or ``ValueError`` for a line lacking a field the mapping needs.
    """
    fields = {child.tag: child.text for child in element}  # one pass: lxml's per-child access is the cost
    day = fields[_TAG["Date"]][:10]
    amount = round(float(fields[_TAG["Amount"]]), 2)
    line_currency = fields.get(_TAG["Currency"]) or currency
    amount_currency = amount
    if line_currency != currency:
        rate = float(fields.get(_TAG["CurrencyRate"]) or 0)
        unit = float(fields.get(_TAG["CurrencyUnit"]) or 1)
        if rate > 0:
            amount_currency = round(amount * unit / rate, 2)
    row: list = [
        compact_guid(fields[_TAG["Id"]]),
        fields[_TAG["TransactionNo"]],
        day,
        int(day[:4] + day[5:7]),
        fields[_TAG["AccountNo"]],
        amount,
        line_currency,
        amount_currency,
        fields.get(_TAG["Comment"]) or None,
        None, None, None, None, None, None, None,
        fields.get(_TAG["DateChanged"]) or None,
    ]
    if _TAG["Dimensions"] in fields:
        supplier_document = fields.get(_TAG["SystemType"]) in SUPPLIER_SYSTEM_TYPES
        for dim in element.iterfind(_DIMENSION_PATH):
            parts = {child.tag: child.text for child in dim}
            column = DIMENSION_COLUMN.get(parts.get(_TAG["Type"]) or "None")
            value = parts.get(_TAG["Value"])
            if column is None or not value:
                continue
            if column == DIMENSION_COLUMN["Customer"] and supplier_document:
                column = _SUPPLIER_COLUMN
            row[column] = value
    return tuple(row)


def _text(element: etree._Element, name: str, namespace: str = AUTH_NS) -> str | None:
    return child_text(element, namespace, name)


def map_account(element: etree._Element) -> Row:
    """``AccountData``: the type follows the NS 4102 number range (the service names no account type)."""
    number = _text(element, "AccountNo") or ""
    return (_text(element, "AccountId") or number, number, _text(element, "AccountName"),
            account_type(None, (), int(number)), None)


def map_department(element: etree._Element) -> Row:
    """``Department``: its id is also the code users see."""
    identifier = _text(element, "Id") or ""
    return (identifier, identifier, _text(element, "Name"))


def map_project(element: etree._Element) -> Row:
    identifier = _text(element, "Id") or ""
    return (identifier, identifier, _text(element, "Name"))


def map_company(element: etree._Element) -> tuple[str, Row]:
    """A CRM ``Company``: (its ``Type``, a customer/supplier row)."""
    identifier = _text(element, "Id") or ""
    return (_text(element, "Type") or "None",
            (identifier, identifier, _text(element, "Name"), _text(element, "OrganizationNumber") or None))
