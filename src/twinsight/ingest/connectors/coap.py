"""CoAP endpoint: constrained devices POST or PUT raw payloads to any path.

CoAP (RFC 7252, UDP) is what battery-powered sensors speak where MQTT's TCP connection is
too costly. Like the HTTP route, the endpoint interprets nothing: the URI path becomes the
message address, the payload stays bytes, and the pipeline does the rest. It answers
2.04 Changed once ``sink.submit`` returned (stored: a confirmable request's sender may stop
retrying), 4.00 with a diagnostic payload for a request it cannot take (no path), 4.13 for
an oversized payload, and 5.03 when the pipeline fails, so the device retries later instead
of believing the value stored.

aiocoap runs in its own thread with its own event loop; ``submit`` runs on that loop's
executor so a slow store never stalls the UDP socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import aiocoap
import aiocoap.resource

from twinsight.core.clock import Clock
from twinsight.core.errors import ConnectorError
from twinsight.core.messages import MessageSink, RawMessage
from twinsight.ingest.connectors.loop_thread import start_loop_thread

log = logging.getLogger("twinsight.ingest.coap")

DEFAULT_PORT = 5683
MAX_PAYLOAD_BYTES = 64 * 1024


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _reply(code: Any, text: str = "") -> aiocoap.Message:
    return aiocoap.Message(code=code, payload=text.encode())


class _Ingest(aiocoap.resource.Resource):  # type: ignore[misc]
    """The root resource: every path lands here (no per-path resources to register)."""

    def __init__(self, endpoint: CoapEndpoint) -> None:
        super().__init__()
        self.endpoint = endpoint

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._ingest(request)

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self._ingest(request)

    async def _ingest(self, request: aiocoap.Message) -> aiocoap.Message:
        ep = self.endpoint
        path = "/".join(request.opt.uri_path).strip("/")
        if not path:
            return _reply(aiocoap.BAD_REQUEST, "give the message's address as the URI path")
        payload = bytes(request.payload)
        if len(payload) > ep.max_payload_bytes:
            return _reply(
                aiocoap.REQUEST_ENTITY_TOO_LARGE,
                f"payload is {len(payload)} bytes; the limit is {ep.max_payload_bytes}",
            )
        try:
            client = str(request.remote.hostinfo)
        except Exception:  # some transports cannot tell
            client = ""
        message = RawMessage("coap", path, payload, ep.clock.now(), client=client)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, ep.sink.submit, [message])
        except Exception as exc:  # the pipeline failed: tell the device to try again
            with ep._lock:
                ep.failures += 1
            log.warning("ingest sink failed on a CoAP message to %s: %s", path, exc)
            return _reply(aiocoap.SERVICE_UNAVAILABLE, "not stored; retry later")
        with ep._lock:
            ep.received += 1
        return aiocoap.Message(code=aiocoap.CHANGED)


class CoapEndpoint:
    """A CoAP server on ``host:port`` (UDP; ``port=0`` picks a free one), start()/stop()."""

    def __init__(
        self,
        sink: MessageSink,
        clock: Clock,
        *,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.host = host
        self.requested_port = port
        self.port = port
        self.max_payload_bytes = max_payload_bytes
        self.received = 0
        self.failures = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._context: Any = None

    @property
    def url(self) -> str:
        return f"coap://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise ConnectorError("CoAP endpoint already started")
        self.port = self.requested_port or _free_udp_port(self.host)
        # aiocoap sets SO_REUSEPORT, so a second server would silently share the port (and
        # its datagrams): check with a plain bind first.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise ConnectorError(
                    f"cannot start the CoAP endpoint on udp {self.url}: {exc.strerror} "
                    "(choose another --coap-port)"
                ) from exc
        loop = asyncio.new_event_loop()

        async def boot() -> None:
            self._context = await aiocoap.Context.create_server_context(
                # UDP only: aiocoap would also open CoAP over TCP/WebSockets listeners.
                _Ingest(self),
                bind=(self.host, self.port),
                transports=["udp6"],
            )

        try:
            thread = start_loop_thread("coap-endpoint", loop, boot, timeout)
        except Exception as exc:  # e.g. OSError: address in use
            raise ConnectorError(
                f"cannot start the CoAP endpoint on udp {self.url}: {exc}"
            ) from exc
        self._loop, self._thread = loop, thread
        log.info("CoAP endpoint listening on %s (POST/PUT any path)", self.url)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._context.shutdown(), loop).result(10)
        except Exception as exc:
            log.warning("CoAP endpoint did not shut down cleanly: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = self._context = None
        log.info("CoAP endpoint on %s stopped", self.url)
