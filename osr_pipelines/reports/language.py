"""The words of a report in Norwegian (the default) and English: headings, statutory lines, warnings.

Tables are built with one set of keys; the words a reader sees are chosen
when a report is rendered. Texts that come from elsewhere (an ERP's account
names, a consolidation's column headings in English) pass through
:func:`words`, which translates the headings it knows and leaves the rest.
"""

from __future__ import annotations

#: key -> (Norwegian bokmål, English)
LABELS: dict[str, tuple[str, str]] = {
    # report kinds and headings
    "trial-balance": ("Saldobalanse", "Trial balance"),
    "income-statement": ("Resultatregnskap", "Income statement"),
    "balance-sheet": ("Balanse", "Balance sheet"),
    "consolidated income-statement": ("Konsolidert resultatregnskap", "Consolidated income statement"),
    "consolidated balance-sheet": ("Konsolidert balanse", "Consolidated balance sheet"),
    "amounts in": ("Beløp i {currency}.", "Amounts in {currency}."),
    "signs ledger": ("Fortegn som i hovedboken: debet positiv, kredit negativ.",
                     "Signs as in the ledger: debit positive, credit negative."),
    "warnings": ("Advarsler: tallene kan ikke brukes slik de står",
                 "Warnings: the figures cannot be used as they stand"),
    "warnings sheet": ("Advarsler", "Warnings"),
    "none": ("ingen", "none"),
    "Account": ("Konto", "Account"),
    "Name": ("Navn", "Name"),
    "Line": ("Linje", "Line"),
    "Opening": ("Inngående", "Opening"),
    "Debit": ("Debet", "Debit"),
    "Credit": ("Kredit", "Credit"),
    "Movement": ("Bevegelse", "Movement"),
    "Closing": ("Utgående", "Closing"),
    "Sum": ("Sum", "Total"),
    "Resultat": ("Resultat", "Result"),
    "Company": ("Selskap", "Company"),
    "Counterpart": ("Motpart", "Counterpart"),
    "Kind": ("Type", "Kind"),
    "balance": ("balanse", "balance"),
    "result": ("resultat", "result"),
    "Amount": ("Beløp", "Amount"),
    "Counter amount": ("Motpartens beløp", "Counter amount"),
    "Difference": ("Differanse", "Difference"),
    "Eliminations": ("Elimineringer", "Eliminations"),
    "Consolidated": ("Konsern", "Consolidated"),
    "Revenue": ("Inntekter", "Revenue"),
    "Cost": ("Kostnader", "Cost"),
    "Result": ("Resultat", "Result"),
    "Month": ("Måned", "Month"),
    "intercompany": ("Konserninterne beløp som ikke stemmer", "Intercompany amounts that do not match"),
    "not mapped": ("Kontoer uten linje", "Accounts without a line"),
    "month": ("{period}", "{period}"),
    "ytd": ("Hittil i år {period}", "Year to date {period}"),
    "closing at": ("Per {period}", "At {period}"),
    "monthly result": ("Resultat per måned", "Monthly result"),
    "monthly result chart": ("Resultat per måned, {this} mot {last}", "Monthly result, {this} against {last}"),
    "per company": ("Per selskap hittil i år", "Year to date per company"),
    "revenue and cost chart": ("Inntekter og kostnader per selskap, hittil i år",
                               "Revenue and cost per company, year to date"),
    "result chart": ("Resultat per selskap, elimineringer og konsern, hittil i år",
                     "Result per company, eliminations and the group, year to date"),
    # statutory lines (regnskapsloven §§ 6-1 and 6-2)
    "driftsinntekter": ("Driftsinntekter", "Operating income"),
    "salgsinntekt": ("Salgsinntekt", "Sales revenue"),
    "annen driftsinntekt": ("Annen driftsinntekt", "Other operating income"),
    "sum driftsinntekter": ("Sum driftsinntekter", "Total operating income"),
    "driftskostnader": ("Driftskostnader", "Operating expenses"),
    "varekostnad": ("Varekostnad", "Cost of goods sold"),
    "lonnskostnad": ("Lønnskostnad", "Payroll expenses"),
    "avskrivning": ("Av- og nedskrivning", "Depreciation and write-downs"),
    "annen driftskostnad": ("Annen driftskostnad", "Other operating expenses"),
    "sum driftskostnader": ("Sum driftskostnader", "Total operating expenses"),
    "driftsresultat": ("Driftsresultat", "Operating result"),
    "finansinntekter": ("Finansinntekter", "Financial income"),
    "finansinntekt": ("Finansinntekt", "Financial income"),
    "ekstraordinar inntekt": ("Ekstraordinær inntekt", "Extraordinary income"),
    "sum finansinntekter": ("Sum finansinntekter", "Total financial income"),
    "finanskostnader": ("Finanskostnader", "Financial expenses"),
    "finanskostnad": ("Finanskostnad", "Financial expenses"),
    "ekstraordinar kostnad": ("Ekstraordinær kostnad", "Extraordinary expenses"),
    "sum finanskostnader": ("Sum finanskostnader", "Total financial expenses"),
    "resultat for skatt": ("Resultat før skattekostnad", "Result before tax"),
    "skattekostnad": ("Skattekostnad", "Tax expense"),
    "skattekostnad ordinart": ("Skattekostnad på ordinært resultat", "Tax on ordinary result"),
    "skattekostnad ekstraordinart": ("Skattekostnad på ekstraordinært resultat", "Tax on extraordinary result"),
    "sum skattekostnad": ("Sum skattekostnad", "Total tax expense"),
    "arsresultat": ("Årsresultat", "Result for the year"),
    "overforinger": ("Overføringer og disponeringer", "Transfers and allocations"),
    "sum overforinger": ("Sum overføringer og disponeringer", "Total transfers and allocations"),
    "eiendeler": ("Eiendeler", "Assets"),
    "anleggsmidler": ("Anleggsmidler", "Fixed assets"),
    "immaterielle": ("Immaterielle eiendeler", "Intangible assets"),
    "varige driftsmidler": ("Varige driftsmidler", "Tangible fixed assets"),
    "finansielle anleggsmidler": ("Finansielle anleggsmidler", "Financial fixed assets"),
    "sum anleggsmidler": ("Sum anleggsmidler", "Total fixed assets"),
    "omlopsmidler": ("Omløpsmidler", "Current assets"),
    "varer": ("Varer", "Inventories"),
    "fordringer": ("Fordringer", "Receivables"),
    "investeringer": ("Investeringer", "Investments"),
    "bankinnskudd": ("Bankinnskudd, kontanter o.l.", "Cash and bank deposits"),
    "sum omlopsmidler": ("Sum omløpsmidler", "Total current assets"),
    "sum eiendeler": ("Sum eiendeler", "Total assets"),
    "egenkapital og gjeld": ("Egenkapital og gjeld", "Equity and liabilities"),
    "egenkapital": ("Egenkapital", "Equity"),
    "innskutt egenkapital": ("Innskutt egenkapital", "Paid-in equity"),
    "opptjent egenkapital": ("Opptjent egenkapital", "Retained earnings"),
    "omregningsdifferanse": ("Omregningsdifferanse", "Translation difference"),
    "arets resultat": ("Årets resultat", "Result for the year"),
    "sum egenkapital": ("Sum egenkapital", "Total equity"),
    "langsiktig gjeld": ("Langsiktig gjeld", "Long-term liabilities"),
    "avsetninger": ("Avsetning for forpliktelser", "Provisions"),
    "annen langsiktig gjeld": ("Annen langsiktig gjeld", "Other long-term liabilities"),
    "sum langsiktig gjeld": ("Sum langsiktig gjeld", "Total long-term liabilities"),
    "kortsiktig gjeld": ("Kortsiktig gjeld", "Current liabilities"),
    "kredittinstitusjoner": ("Gjeld til kredittinstitusjoner", "Debt to credit institutions"),
    "leverandorgjeld": ("Leverandørgjeld", "Trade creditors"),
    "betalbar skatt": ("Betalbar skatt", "Tax payable"),
    "offentlige avgifter": ("Skyldige offentlige avgifter", "Public duties payable"),
    "utbytte": ("Utbytte", "Dividends"),
    "annen kortsiktig gjeld": ("Annen kortsiktig gjeld", "Other current liabilities"),
    "sum kortsiktig gjeld": ("Sum kortsiktig gjeld", "Total current liabilities"),
    "sum egenkapital og gjeld": ("Sum egenkapital og gjeld", "Total equity and liabilities"),
    "uten linje": ("Kontoer uten linje i oppstillingen", "Accounts without a line in the layout"),
    "sum uten linje": ("Sum kontoer uten linje", "Total accounts without a line"),
}

MONTHS = {"nb": ("Jan", "Feb", "Mar", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Des"),
          "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")}


def text(key: str, lang: str = "nb", **values: object) -> str:
    """The words for ``key`` in ``lang`` with ``values`` filled in."""
    nb, en = LABELS[key]
    return (en if lang == "en" else nb).format(**values)


def words(phrase: str, lang: str = "nb") -> str:
    """A heading from another part of the code in ``lang``, if it is one this module knows; else as it is."""
    return text(phrase, lang) if phrase in LABELS else phrase
