"""The GraphQL operations the connector sends, each field checked against the published SDL by the tests.

Every root set takes ``skip``/``take``/``filter``/``orderBy`` and answers
``{ totalCount items { ... } }``; related rows are read through the fields the
SDL offers on each item (``invoice { invoiceDate }``), so one request per page
carries what a row needs. No aliases or fragments: the API refuses them.
"""

from __future__ import annotations

_SET = ("query($skip: Int, $take: Int, $filter: String) {{\n"
        "  {root}(skip: $skip, take: $take, filter: $filter, orderBy: [{{path: \"{order}\"}}]) {{\n"
        "    totalCount\n    items {{ {fields} }}\n  }}\n}}")


def paged(root: str, order: str, fields: str) -> str:
    """One page of the root set ``root``, ordered by its id so that ``skip`` pages never overlap."""
    return _SET.format(root=root, order=order, fields=" ".join(fields.split()))


COMPANIES = paged("companyInfos", "companyInfoId", "companyInfoId companyName organizationNumber")

#: dimension -> (root set, query)
DIMENSIONS = {
    "accounts": ("projectAccounts",
                 paged("projectAccounts", "projectAccountId", "projectAccountId accountNumber description")),
    "departments": ("departments",
                    paged("departments", "departmentId", "departmentId departmentNumber description")),
    "projects": ("projects", paged("projects", "projectId", "projectId code name")),
    "customers": ("customers",
                  paged("customers", "customerId", "customerId customerNumber name organizationNumber")),
    "suppliers": ("suppliers",
                  paged("suppliers", "supplierId", "supplierId supplierNumber supplierName organizationNumber")),
}

INVOICE_LINES = paged("invoiceLines", "invoiceLineId", """
    invoiceLineId calc_InvoiceAmount invoiceLineText departmentId sys_UpdatedDateUTC
    income_ProjectAccount { accountNumber }
    invoice { invoiceNumber invoiceDate projectId customerId departmentId }""")

SUPPLIER_INVOICE_LINES = paged("supplierInvoiceLines", "supplierInvoiceLineId", """
    supplierInvoiceLineId lineAmount comment departmentId projectAccountNumberTxt sys_UpdatedDateUTC
    assignment { projectId }
    supplierInvoice { invoiceNumber invoiceDate supplierId }""")

BUDGET_LINE_PERIODS = paged("budgetLinePeriods", "budgetLinePeriodId", """
    budgetLinePeriodId budgetValue
    projectPeriod { periodYear periodNumber }
    budgetLine { projectAccount { accountNumber } budget { projectId budgetScenario { description }
                                                         project { departmentId } } }""")
