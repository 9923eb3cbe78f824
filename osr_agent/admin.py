"""The agent's admin page, on 127.0.0.1 only: data sources, their connection test and pairing keys.

It listens on the loopback interface alone, so only someone logged on to the
server reaches it. Requests must name ``localhost``/``127.0.0.1`` as their
host (a page elsewhere cannot rebind a name to it), and forms are accepted only
from the page itself (``Origin``), so another site open in the administrator's
browser cannot post to it. A pairing key is shown once, in the answer to the
form that made it; the agent keeps only its digest.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, quote

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from osr_agent import SQL_SERVER_DRIVER, execute
from osr_agent.config import AgentConfig, ConfigError, DataSource

HOST = "127.0.0.1"
PORT = 5002
LOCAL_NAMES = ("localhost", "127.0.0.1")

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem}"
          ".key{font-family:monospace;font-size:1.2rem;background:#ffe;padding:.5rem;border:1px solid #cc9}"
          "label{display:block;margin:.3rem 0}")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
                        "<p><a href='/'>Data sources</a></p></body></html>", status)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _form(source: DataSource | None) -> str:
    s = source or DataSource(name="", server="")
    paths = "\n".join(s.file_paths)
    target = f"/sources/{quote(s.name, safe='')}" if source else "/sources"
    windows = " selected" if s.auth == "windows" else ""
    trust = " checked" if s.trust_server_certificate else ""
    return (f"<form method='post' action='{_e(target)}'>"
            f"<label>Name <input name='name' value='{_e(s.name)}' required></label>"
            f"<label>Server (name or name\\instance) <input name='server' value='{_e(s.server)}' required></label>"
            f"<label>System database <input name='system_database' value='{_e(s.system_database)}'></label>"
            f"<label>Authentication <select name='auth'><option value='sql'>SQL Server</option>"
            f"<option value='windows'{windows}>Windows</option></select></label>"
            f"<label>Login <input name='login' value='{_e(s.login)}'></label>"
            "<label>Password <input name='password' type='password' autocomplete='new-password'"
            f" placeholder='{'unchanged' if source else ''}'></label>"
            f"<label>ODBC driver <input name='driver' value='{_e(s.driver)}'></label>"
            f"<label><input type='checkbox' name='trust_server_certificate' value='yes'{trust}>"
            " Trust the server's certificate (self-signed)</label>"
            f"<label>File access paths (one per line)<br><textarea name='file_paths' rows='3' cols='60'>{_e(paths)}"
            "</textarea></label><button>Save</button></form>")


def _source_from(form: dict[str, str]) -> tuple[DataSource, str | None]:
    paths = tuple(p.strip() for p in form.get("file_paths", "").splitlines() if p.strip())
    source = DataSource(name=form.get("name", "").strip(), server=form.get("server", "").strip(),
                        system_database=form.get("system_database", "").strip() or "vbsys",
                        auth=form.get("auth", "sql"), login=form.get("login", "").strip(), file_paths=paths,
                        driver=form.get("driver", "").strip() or SQL_SERVER_DRIVER,
                        trust_server_certificate=form.get("trust_server_certificate") == "yes")
    password = form.get("password", "")
    return source, (password or None)


def _key_page(name: str, key: str, what: str) -> HTMLResponse:
    return _page(f"Pairing key for {name}", f"<p>{_e(what)} Copy this key into the connection now: it is shown "
                 f"only this once (the agent keeps only its digest).</p><p class='key'>{_e(key)}</p>")


def admin_app(config: AgentConfig, status: Callable[[], str],
              changed: Callable[[], Awaitable[None]]) -> ASGIApp:
    """The admin page over ``config``; ``status`` describes the gateway link, ``changed`` re-announces sources."""

    async def form_of(request: Request) -> dict[str, str]:
        body = (await request.body())[:1_000_000].decode("utf-8", "replace")
        return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}

    async def index(request: Request) -> Response:
        rows = "".join(
            f"<tr><td>{_e(s.name)}</td><td>{_e(s.server)}</td><td>{_e(s.system_database)}</td><td>{_e(s.auth)}</td>"
            f"<td>{'saved' if config.password(s) is not None else '<b>type it in again</b>'}</td>"
            f"<td>{_e(', '.join(s.file_paths))}</td><td><code>{_e(s.key_id)}</code></td><td>"
            f"<a href='/sources/{quote(s.name, safe='')}'>edit</a>"
            + "".join(f"<form method='post' action='/sources/{quote(s.name, safe='')}/{act}' style='display:inline'>"
                      f"<button>{label}</button></form>"
                      for act, label in (("test", "test"), ("key", "new pairing key"), ("delete", "remove")))
            + "</td></tr>" for s in config.sources)
        return _page("OSR agent", f"<p>Gateway: {_e(status())}</p><h2>Data sources</h2><table><tr><th>name</th>"
                     "<th>server</th><th>system database</th><th>auth</th><th>password</th><th>file access</th>"
                     f"<th>key id</th><th></th></tr>{rows}</table><h2>Add a data source</h2>{_form(None)}")

    async def add(request: Request) -> Response:
        source, password = _source_from(await form_of(request))
        try:
            key = config.add(source, password or "")
        except ConfigError as exc:
            return _page("Not saved", f"<p>{_e(exc)}</p>{_form(None)}", 400)
        await changed()
        return _key_page(source.name, key, f"Data source '{source.name}' saved.")

    def named(request: Request) -> DataSource | None:
        try:
            return config.source(request.path_params["name"])
        except ConfigError:
            return None

    async def edit(request: Request) -> Response:
        source = named(request)
        if source is None:
            return _page("No such data source", "", 404)
        if request.method == "GET":
            return _page(f"Data source {source.name}", _form(source))
        changed_source, password = _source_from(await form_of(request))
        try:
            config.update(source.name, changed_source, password)
        except ConfigError as exc:
            return _page("Not saved", f"<p>{_e(exc)}</p>{_form(source)}", 400)
        await changed()
        return RedirectResponse("/", 303)

    async def action(request: Request) -> Response:
        source = named(request)
        if source is None:
            return _page("No such data source", "", 404)
        act = request.path_params["action"]
        if act == "delete":
            config.remove(source.name)
            await changed()
            return RedirectResponse("/", 303)
        if act == "key":
            key = config.regenerate_key(source.name)
            await changed()
            return _key_page(source.name, key, "A new key was made; the old one no longer works.")
        if act == "test":
            result = await anyio.to_thread.run_sync(execute.test_connection, config, source)
            return _page(f"Connection test: {source.name}", f"<p>{_e(result)}</p>")
        return _page("Unknown action", "", 404)

    app = Starlette(routes=[
        Route("/", index), Route("/sources", add, methods=["POST"]),
        Route("/sources/{name}", edit, methods=["GET", "POST"]),
        Route("/sources/{name}/{action}", action, methods=["POST"]),
    ])

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "").rsplit(":", 1)[0].strip("[]")
            origin = headers.get("origin")
            if host not in LOCAL_NAMES or (scope["method"] == "POST" and origin is not None
                                            and origin.split("://", 1)[-1].rsplit(":", 1)[0] not in LOCAL_NAMES):
                await Response("refused: the admin page answers only http://localhost requests from itself",
                               403)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guard
