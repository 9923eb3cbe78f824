"""The gateway's two faces: the agents' WebSocket (``/agent``) and the connectors' requests (``/v1/request``).

An agent announces its data sources by pairing-key id and digest. A
connector's request carries the pairing key itself; the gateway hashes it and
compares in constant time with the digest its agent announced (or with a
dummy digest when no agent announced that id, so an unknown key costs what a
wrong one does), then passes the request on and streams the agent's frames
back as they come. Each request may have
:data:`~osr_agent.protocol.WINDOW` chunks in flight; the gateway acknowledges a
chunk once the connector's response has taken it, so nothing is buffered
beyond that window and a slow reader slows the agent's query, not the
gateway's memory. Nothing is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from osr_agent import protocol

log = logging.getLogger("osr_pipelines.gateway")
MAX_REQUEST_BYTES = 64 * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class AgentLink:
    """One connected agent: its socket, the digests it announced and its requests in flight."""

    socket: WebSocket
    peer: str
    digests: dict[str, str] = field(default_factory=dict)
    pending: dict[int, asyncio.Queue] = field(default_factory=dict)

    async def send(self, message: dict) -> None:
        await self.socket.send_text(json.dumps(message))


class Gateway:
    """Agents by pairing-key id, and since when each id has been connected or gone."""

    def __init__(self) -> None:
        self.started = _now()
        self.links: dict[str, AgentLink] = {}
        #: key id -> the digest last announced for it (kept after the agent disconnects, to tell
        #: "agent offline" from "wrong key")
        self.digests: dict[str, str] = {}
        self.since: dict[str, str] = {}
        self._ids = itertools.count(1)

    def announce(self, link: AgentLink, sources: object) -> None:
        """Route the key ids an agent announces to it; a key id keeps the digest it was first announced with."""
        announced: dict[str, str] = {}
        for source in sources if isinstance(sources, list) else []:
            kid, digest = source.get("key_id"), source.get("digest")
            if not (isinstance(kid, str) and isinstance(digest, str) and len(digest) == 64):
                continue
            if self.digests.get(kid, digest) != digest:
                # a key id belongs to one key for good (a new key has a new id): another digest for it is
                # someone else's agent trying to take the connection's requests over
                log.warning("agent %s announced key id %s with another digest; ignored", link.peer, kid)
                continue
            announced[kid] = digest
        for kid in set(link.digests) - set(announced):
            if self.links.get(kid) is link:
                del self.links[kid]
                self.since[kid] = _now()
        link.digests = announced
        for kid, digest in announced.items():
            self.links[kid], self.digests[kid], self.since[kid] = link, digest, _now()

    def drop(self, link: AgentLink) -> None:
        for kid in link.digests:
            if self.links.get(kid) is link:
                del self.links[kid]
                self.since[kid] = _now()
        for queue in link.pending.values():
            queue.put_nowait((protocol.ERROR[0], protocol.encode(
                {"error": "the agent disconnected while sending its answer"})))

    def find(self, key: str) -> tuple[AgentLink | None, str | None]:
        """The link ``key`` authenticates for, or ``None`` and why not (in words for the user)."""
        kid = protocol.key_id(key) or ""
        ok = protocol.matches(key, self.digests.get(kid))
        if not ok:
            if kid in self.digests:
                return None, "the pairing key was refused (the agent has a different key for this data source)"
            return None, (f"no agent has presented this pairing key since the gateway started at {self.started} "
                          "(the agent is not connected, or the key is wrong)")
        link = self.links.get(kid)
        if link is None:
            return None, f"the agent is not connected since {self.since.get(kid, self.started)}"
        return link, None

    async def agent(self, socket: WebSocket) -> None:
        await socket.accept()
        peer = f"{socket.client.host}:{socket.client.port}" if socket.client else "?"
        link = AgentLink(socket, peer)
        try:
            hello = json.loads(await asyncio.wait_for(socket.receive_text(), 10))
            if hello.get("type") != "hello":
                await socket.close(1008)
                return
            self.announce(link, hello.get("sources"))
            await link.send({"type": "welcome", "gateway_started": self.started})
            log.info("agent %s connected with %d data sources", peer, len(link.digests))
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("bytes") is not None:
                    data = message["bytes"]
                    rid, kind = protocol.AGENT_HEAD.unpack_from(data)
                    queue = link.pending.get(rid)
                    if queue is not None:
                        queue.put_nowait((kind, data[protocol.AGENT_HEAD.size:]))
                elif message.get("text") is not None:
                    update = json.loads(message["text"])
                    if update.get("type") == "hello":
                        self.announce(link, update.get("sources"))
        except (WebSocketDisconnect, TimeoutError, ValueError, RuntimeError):
            pass
        finally:
            self.drop(link)
            log.info("agent %s disconnected", peer)

    async def request(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        key = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        link, why = self.find(key)
        if link is None:
            status = 503 if why and "not connected since" in why else 401
            return JSONResponse({"error": why}, status)
        body = await request.body()
        try:
            message = json.loads(body[:MAX_REQUEST_BYTES]) if len(body) <= MAX_REQUEST_BYTES else None
        except ValueError:
            message = None
        if not isinstance(message, dict):
            return JSONResponse({"error": "the request must be a JSON object"}, 400)
        rid = next(self._ids)
        queue: asyncio.Queue = asyncio.Queue()
        link.pending[rid] = queue
        try:
            await link.send({**message, "type": "request", "id": rid, "key": key})
        except (RuntimeError, WebSocketDisconnect):
            link.pending.pop(rid, None)
            return JSONResponse({"error": "the agent disconnected"}, 503)
        return StreamingResponse(self._relay(link, rid, queue), media_type="application/octet-stream")

    async def _relay(self, link: AgentLink, rid: int, queue: asyncio.Queue):  # type: ignore[no-untyped-def]
        done = False
        try:
            while not done:
                kind, payload = await queue.get()
                done = kind != protocol.DATA[0]
                yield protocol.body_frame(kind, payload)
                if not done:
                    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                        await link.send({"type": "ack", "id": rid})
        finally:
            link.pending.pop(rid, None)
            if not done:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await link.send({"type": "cancel", "id": rid})


def gateway_app(gateway: Gateway | None = None) -> Starlette:
    gw = gateway or Gateway()

    async def health(request: Request) -> Response:
        return JSONResponse({"started": gw.started, "agents": len({id(link) for link in gw.links.values()})})

    return Starlette(routes=[WebSocketRoute("/agent", gw.agent), Route("/v1/request", gw.request, methods=["POST"]),
                             Route("/health", health)])
