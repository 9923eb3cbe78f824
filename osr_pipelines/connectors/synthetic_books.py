"""Deterministic synthetic accounting data: the stand-in for a real ERP's books.

The synthetic connector serves these books in process; the sandbox ERPs
(``osr_sandbox``) serve the same books over each ERP's API, so this module is
part of the core package and the sandbox depends on it, never the reverse.

Every day of every company is generated from its own seeded RNG, so any date
window can be produced on its own, in any process, without generating the
history before it. Edits and deletions are kept in a small JSON file so that
the process that edits a company and the process that imports it (a Dagster
run worker, a sandbox server) see the same books.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from osr_pipelines.connectors.base import Batch, CompanyInfo, Window

# NS 4102-style chart of accounts: (number, name, type, group).
ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("1200", "Maskiner og anlegg", "balance", "12 Driftsmidler"),
    ("1460", "Innkjøpte varer for videresalg", "balance", "14 Varelager"),
    ("1500", "Kundefordringer", "balance", "15 Kortsiktige fordringer"),
    ("1570", "Andre kortsiktige fordringer", "balance", "15 Kortsiktige fordringer"),
    ("1900", "Kontanter", "balance", "19 Bankinnskudd og kontanter"),
    ("1920", "Bankinnskudd", "balance", "19 Bankinnskudd og kontanter"),
    ("2000", "Aksjekapital", "balance", "20 Egenkapital"),
    ("2050", "Annen egenkapital", "balance", "20 Egenkapital"),
    ("2400", "Leverandørgjeld", "balance", "24 Leverandørgjeld"),
    ("2600", "Forskuddstrekk", "balance", "26 Skattetrekk"),
    ("2700", "Utgående merverdiavgift", "balance", "27 Offentlige avgifter"),
    ("2710", "Inngående merverdiavgift", "balance", "27 Offentlige avgifter"),
    ("2770", "Skyldig arbeidsgiveravgift", "balance", "27 Offentlige avgifter"),
    ("2940", "Skyldige feriepenger", "balance", "29 Annen kortsiktig gjeld"),
    ("3000", "Salgsinntekt, avgiftspliktig", "income", "30 Salgsinntekt"),
    ("3100", "Salgsinntekt, avgiftsfri", "income", "31 Salgsinntekt"),
    ("3600", "Leieinntekt fast eiendom", "income", "36 Annen driftsinntekt"),
    ("4000", "Innkjøp av råvarer og halvfabrikata", "income", "40 Varekostnad"),
    ("4300", "Innkjøp av varer for videresalg", "income", "43 Varekostnad"),
    ("5000", "Lønn til ansatte", "income", "50 Lønnskostnad"),
    ("5180", "Feriepenger", "income", "51 Lønnskostnad"),
    ("5400", "Arbeidsgiveravgift", "income", "54 Lønnskostnad"),
    ("6000", "Avskrivning på bygninger og annen fast eiendom", "income", "60 Avskrivninger"),
    ("6300", "Leie lokale", "income", "63 Kostnader lokaler"),
    ("6340", "Lys, varme", "income", "63 Kostnader lokaler"),
    ("6540", "Inventar", "income", "65 Verktøy og inventar"),
    ("6800", "Kontorrekvisita", "income", "68 Kontorkostnad"),
    ("6900", "Telefon", "income", "69 Telefon og porto"),
    ("7100", "Bilgodtgjørelse", "income", "71 Reisekostnad"),
    ("7140", "Reisekostnad, ikke oppgavepliktig", "income", "71 Reisekostnad"),
    ("7320", "Reklamekostnad", "income", "73 Salgskostnad"),
    ("7700", "Styre- og bedriftsforsamlingsmøter", "income", "77 Annen driftskostnad"),
    ("7770", "Bank- og kortgebyrer", "income", "77 Annen driftskostnad"),
    ("8050", "Annen renteinntekt", "income", "80 Finansinntekt"),
    ("8150", "Annen rentekostnad", "income", "81 Finanskostnad"),
)
_EXPENSE_ACCOUNTS = ("4000", "4300", "6300", "6340", "6540", "6800", "6900", "7100", "7140", "7320", "7770")
_SALES_ACCOUNTS = ("3000", "3000", "3000", "3100", "3600")

DEPARTMENTS = ("Administrasjon", "Salg", "Drift", "Utvikling", "Service")
PROJECTS = tuple(f"Prosjekt {name}" for name in (
    "Alfa", "Bravo", "Charlie", "Delta", "Ekko", "Fjord", "Gran", "Hav", "Is", "Jotun"))
CUSTOMER_COUNT = 50
SUPPLIER_COUNT = 30

_COMPANY_NAMES = ("Nordlys", "Fjellheim", "Havbris", "Skogly", "Solberg", "Vestvind",
                  "Elvebakken", "Granli", "Bjørkvik", "Steinrøys")


def company_name(erp_id: str) -> str:
    index = zlib.crc32(erp_id.encode()) % len(_COMPANY_NAMES)
    return f"{_COMPANY_NAMES[index]} {erp_id} AS"


@dataclass
class Mutations:
    """Edits and deletions applied on top of the generated books, persisted to JSON."""

    path: Path | None = None
    # company -> ISO day -> {"revision": int, "deleted": [voucher index, ...]}
    days: dict[str, dict[str, dict]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Mutations:
        if path is None or not path.exists():
            return cls(path=path)
        return cls(path=path, days=json.loads(path.read_text()))

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.days, indent=1, sort_keys=True))
            tmp.replace(self.path)

    def of(self, company: str, day: date) -> dict | None:
        return self.days.get(company, {}).get(day.isoformat())

    def _day(self, company: str, day: date) -> dict:
        return self.days.setdefault(company, {}).setdefault(
            day.isoformat(), {"revision": 0, "deleted": []})


@dataclass
class SyntheticBooks:
    """The books of a set of synthetic companies.

    ``postings`` is the approximate number of postings per company over
    ``years`` years of history ending on ``end`` (inclusive).
    """

    seed: int = 42
    company_ids: tuple[str, ...] = ("1001", "1002", "1003")
    postings: int = 20_000
    years: int = 3
    end: date = field(default_factory=date.today)
    mutations_path: Path | None = None
    mutations: Mutations = field(init=False)

    def __post_init__(self) -> None:
        self.mutations = Mutations.load(self.mutations_path)
        self.start = date(self.end.year - self.years + 1, 1, 1)
        days = (self.end - self.start).days + 1
        # Vouchers hold 2.8 lines on average (40 % sales and 40 % purchases of 3, 20 % payments of 2).
        self.vouchers_per_day = max(1, round(self.postings / days / 2.8))

    # -- companies and dimensions -------------------------------------------------

    def companies(self) -> list[CompanyInfo]:
        return [CompanyInfo(erp_id=c, name=company_name(c), organization_number=f"9{int(c):08d}"[:9])
                for c in self.company_ids]

    def has_company(self, erp_id: str) -> bool:
        return erp_id in self.company_ids

    def dimension(self, dimension: str) -> Batch:
        if dimension == "accounts":
            return [(str(i + 1), number, name, kind, group)
                    for i, (number, name, kind, group) in enumerate(ACCOUNTS)]
        if dimension == "departments":
            return [(str(i + 1), str(i + 1), name) for i, name in enumerate(DEPARTMENTS)]
        if dimension == "projects":
            return [(str(i + 1), f"P{i + 1:03d}", name) for i, name in enumerate(PROJECTS)]
        if dimension == "customers":
            return [(str(10_000 + i), str(10_000 + i), f"Kunde {i + 1} AS", f"8{i:08d}")
                    for i in range(CUSTOMER_COUNT)]
        if dimension == "suppliers":
            return [(str(20_000 + i), str(20_000 + i), f"Leverandør {i + 1} AS", f"7{i:08d}")
                    for i in range(SUPPLIER_COUNT)]
        raise KeyError(dimension)

    # -- postings ---------------------------------------------------------------------

    def postings_in(self, erp_id: str, window: Window, batch_size: int = 10_000) -> Iterator[Batch]:
        """Postings dated inside ``window``, in batches of about ``batch_size``."""
        day = max(window.start, self.start)
        last = min(window.end - timedelta(days=1), self.end)
        batch: Batch = []
        while day <= last:
            batch.extend(self.day_postings(erp_id, day))
            if len(batch) >= batch_size:
                yield batch
                batch = []
            day += timedelta(days=1)
        if batch:
            yield batch

    def count_in(self, erp_id: str, window: Window) -> int:
        return sum(len(b) for b in self.postings_in(erp_id, window))

    def day_postings(self, erp_id: str, day: date) -> Batch:
        mutation = self.mutations.of(erp_id, day)
        revision = mutation["revision"] if mutation else 0
        deleted = set(mutation["deleted"]) if mutation else ()
        ordinal = day.toordinal()
        structure = random.Random(f"{self.seed}:{erp_id}:{ordinal}")
        amounts = random.Random(f"{self.seed}:{erp_id}:{ordinal}:{revision}")
        iso = day.isoformat()
        period = day.year * 100 + day.month
        first_number = (day.timetuple().tm_yday - 1) * self.vouchers_per_day + 1
        changed = f"{iso}T{12 + revision % 10:02d}:00:00" if revision else f"{iso}T12:00:00"
        rows: Batch = []
        suffix = f" (rev {revision})" if revision else ""
        for v in range(self.vouchers_per_day):
            kind = structure.random()
            if v in deleted:
                continue
            voucher = str(day.year * 1_000_000 + first_number + v)
            base_id = ordinal * 1_000_000 + v * 10
            cents = amounts.randrange(10_000, 5_000_000)
            vat = cents // 4
            dept = str(v % len(DEPARTMENTS) + 1)
            # Lines: (account, cents, customer, supplier, project, department).
            if kind < 0.4:  # sale: receivable against revenue and output VAT
                customer = str(10_000 + (v * 7 + ordinal) % CUSTOMER_COUNT)
                project = str((v + ordinal) % len(PROJECTS) + 1)
                text = f"Faktura {voucher}"
                lines = (("1500", cents + vat, customer, None, None, None),
                         (_SALES_ACCOUNTS[v % 5], -cents, customer, None, project, dept),
                         ("2700", -vat, None, None, None, None))
            elif kind < 0.8:  # purchase: expense and input VAT against payable
                supplier = str(20_000 + (v * 3 + ordinal) % SUPPLIER_COUNT)
                text = f"Inngående faktura {voucher}"
                lines = (("2400", -(cents + vat), None, supplier, None, None),
                         (_EXPENSE_ACCOUNTS[(v + ordinal) % 11], cents, None, supplier, None, dept),
                         ("2710", vat, None, None, None, None))
            else:  # customer payment into the bank
                text = f"Innbetaling {voucher}"
                lines = (("1920", cents, None, None, None, None),
                         ("1500", -cents, str(10_000 + v % CUSTOMER_COUNT), None, None, None))
            foreign = base_id % 7 == 0
            for n, (account, line_cents, customer, supplier, project, department) in enumerate(lines):
                amount = line_cents / 100
                rows.append((str(base_id + n), voucher, iso, period, account, amount,
                             "EUR" if foreign else "NOK",
                             round(line_cents / 1150, 2) if foreign else amount,
                             text + suffix, department, project, customer, supplier,
                             None, None, None, changed))
        return rows

    # -- mutations, for refresh tests -------------------------------------------------------

    def edit_day(self, erp_id: str, day: date) -> None:
        """Change the amounts and texts of every posting on ``day`` (ids stay)."""
        self.mutations._day(erp_id, day)["revision"] += 1
        self.mutations.save()

    def delete_voucher(self, erp_id: str, day: date, index: int = 0) -> None:
        """Delete the ``index``-th voucher of ``day`` with all its postings."""
        entry = self.mutations._day(erp_id, day)
        if index not in entry["deleted"]:
            entry["deleted"].append(index)
        self.mutations.save()
