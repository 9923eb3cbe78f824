"""The agent's connection out to the gateway: dial, announce the data sources, answer requests, reconnect.

WebSocket over TLS was chosen over HTTP/2 long-polling because one
long-lived outbound connection carries requests in and streamed results out
with framing, keep-alive pings and per-message backpressure built in; the
agent needs no inbound port and only TCP 443 out. The gateway's certificate is
checked against the system's CAs or the configured CA file.

Each request runs in a thread of its own (ODBC blocks) and may have
:data:`~osr_agent.protocol.WINDOW` chunks unacknowledged; the gateway
acknowledges a chunk when its reader has taken it, so a slow reader slows
the query instead of filling memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
import threading

import websockets
from websockets.asyncio.client import ClientConnection, connect

from osr_agent import execute, protocol
from osr_agent.config import AgentConfig

log = logging.getLogger("osr_agent")
MAX_FRAME = 16 * 1024 * 1024


class _Request:
    def __init__(self) -> None:
        self.credit = threading.Semaphore(protocol.WINDOW)
        self.cancelled = threading.Event()


class AgentService:
    """One agent process's link to the gateway; ``sources_changed`` re-announces after an admin edit."""

    def __init__(self, config: AgentConfig, *, max_backoff: float = 30.0,
                 chunk_rows: int = protocol.CHUNK_ROWS) -> None:
        self.config = config
        self.max_backoff = max_backoff
        self.chunk_rows = chunk_rows
        self.connected = False
        self.last_error = ""
        self._ws: ClientConnection | None = None
        self._requests: dict[int, _Request] = {}

    def _ssl(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file or None)

    def hello(self) -> str:
        return json.dumps({"type": "hello", "version": 1, "sources": [
            {"key_id": s.key_id, "digest": s.key_digest, "name": s.name} for s in self.config.sources]})

    async def sources_changed(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await self._ws.send(self.hello())

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set, backing off (with jitter) up to ``max_backoff`` seconds."""
        delay = 0.5
        while not stop.is_set():
            try:
                async with connect(self.config.gateway_url, ssl=self._ssl(), compression=None, max_size=MAX_FRAME,
                                   open_timeout=10, ping_interval=15, ping_timeout=15, proxy=None) as ws:
                    await ws.send(self.hello())
                    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if answer.get("type") != "welcome":
                        raise ConnectionError(f"the gateway refused the agent: {answer.get('error', answer)}")
                    self._ws, self.connected, delay = ws, True, 0.5
                    log.info("connected to the gateway %s", self.config.gateway_url)
                    await self._serve(ws, stop)
            except (OSError, ConnectionError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("gateway %s: %s; retrying in %.1f s", self.config.gateway_url, self.last_error, delay)
            finally:
                self._ws, self.connected = None, False
                for request in self._requests.values():
                    request.cancelled.set()
                    request.credit.release()
                self._requests.clear()
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, self.max_backoff)

    async def _serve(self, ws: ClientConnection, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while True:
                receive = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait({receive, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    receive.cancel()
                    return
                message = json.loads(receive.result())
                kind = message.get("type")
                if kind == "request":
                    self._start(loop, ws, message)
                elif kind == "ack" and (request := self._requests.get(message.get("id"))):
                    request.credit.release()
                elif kind == "cancel" and (request := self._requests.get(message.get("id"))):
                    request.cancelled.set()
                    request.credit.release()
        finally:
            stopper.cancel()

    def _start(self, loop: asyncio.AbstractEventLoop, ws: ClientConnection, message: dict) -> None:
        rid = message.get("id")
        if not isinstance(rid, int) or rid in self._requests:
            return
        request = self._requests[rid] = _Request()

        def send(frame: bytes) -> None:
            asyncio.run_coroutine_threadsafe(ws.send(frame), loop).result()

        def work() -> None:
            try:
                for kind, payload in execute.handle(self.config, message, self.chunk_rows):
                    if kind == protocol.DATA:
                        request.credit.acquire()
                    if request.cancelled.is_set():
                        return
                    send(protocol.agent_frame(rid, kind, payload))
            except (websockets.ConnectionClosed, RuntimeError, OSError):
                pass  # the gateway went away; it tells its reader
            finally:
                loop.call_soon_threadsafe(self._requests.pop, rid, None)

        threading.Thread(target=work, name=f"request-{rid}", daemon=True).start()
