"""The sandbox ERPs by connection type, and serving one of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.connectors.synthetic_books import SyntheticBooks
from osr_sandbox import businessnxt, contractingworks, poweroffice, tripletex, twentyfourseven, vismanet, xledger
from osr_sandbox.server import ASGIApp, SandboxErp, serve

SANDBOXES: dict[str, SandboxErp] = {
    "tripletex": tripletex.SANDBOX,
    "poweroffice-go": poweroffice.SANDBOX,
    "xledger": xledger.SANDBOX,
    "visma-net": vismanet.SANDBOX,
    "business-nxt-group": businessnxt.SANDBOX,
    "24sevenoffice": twentyfourseven.SANDBOX,
}

#: Sandboxes of ERPs that keep no general ledger: they serve project economics of their own, not the books'
#: postings under the books' company ids, so what reads a ledger from :data:`SANDBOXES` leaves them out; the
#: shared import tests import from both.
PROJECT_SANDBOXES: dict[str, SandboxErp] = {
    "contracting-works": contractingworks.SANDBOX,
}
#: Every sandbox by its connection type: what ``osr sandbox serve`` and the shared import tests serve.
EVERY_SANDBOX: dict[str, SandboxErp] = {**SANDBOXES, **PROJECT_SANDBOXES}


#: Direct-only types served by an import type's sandbox; kept out of :data:`SANDBOXES`, whose types the
#: shared import tests import from.
SAME_SANDBOX = {"business-nxt": "business-nxt-group"}


def sandbox_erp(erp: str) -> SandboxErp:
    try:
        return EVERY_SANDBOX[SAME_SANDBOX.get(erp, erp)]
    except KeyError:
        raise ValueError(f"no sandbox for '{erp}' (known: {', '.join(sorted(EVERY_SANDBOX))})") from None


def sandbox_app(erp: str, books: SyntheticBooks, faults: str | None = None,
                options: Mapping[str, str] | None = None) -> ASGIApp:
    """The sandbox app of ``erp`` over ``books``."""
    return sandbox_erp(erp).app(books, faults, options or {})


def serve_sandbox(erp: str, port: int, companies: str | Sequence[str] | None = None, postings: int | None = None,
                  faults: str | None = None, *, host: str = "127.0.0.1",
                  options: Mapping[str, str] | None = None) -> None:
    """Serve the sandbox of ``erp`` until interrupted.

    ``companies`` (comma list or sequence) and ``postings`` (per company) shape
    the books; ``options`` take the generator's other options (``seed``,
    ``years``, ``end``, ``state``) and the ERP's own (tokens, limits).
    """
    merged = dict(options or {})
    if companies:
        merged["companies"] = companies if isinstance(companies, str) else ",".join(companies)
    if postings is not None:
        merged["postings"] = str(postings)
    app = sandbox_app(erp, books_from_options(merged), faults, merged)
    serve(app, host=host, port=port)
