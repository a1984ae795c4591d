"""An MQTT broker inside the Twinsight process, for when no broker is configured.

The demo and a first install should take live data without installing anything, so
``twinsight serve`` starts this broker on loopback and subscribes to it. The choice, and
why (figures measured on a 2-core machine, one paho subscriber plus publisher, small JSON):

* **amqtt** (pure Python, pinned with the project) runs in its own thread with its own
  event loop. It speaks MQTT 3.1.1 only, and shares this process's interpreter, so it is
  about ten times slower than Mosquitto (≈2,000 msg/s QoS 0 and ≈1,000 msg/s QoS 1,
  against ≈23,000 and ≈4,400 for Mosquitto in the same set-up). That is ample for a demo or a
  small site, and it needs nothing beyond ``pip install``: it is the default.
* **Mosquitto** (Debian's ``mosquitto`` binary, a child process) is the fallback when amqtt
  cannot start, and the choice with ``prefer="mosquitto"``; production should run a real
  broker and point ``--mqtt`` at it anyway (shared subscriptions, MQTT 5, persistence).

The log says which one runs. Only loopback is served: it has no authentication.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Literal

from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors.loop_thread import start_loop_thread

log = logging.getLogger("twinsight.ingest.embedded_broker")

Kind = Literal["amqtt", "mosquitto"]


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def find_mosquitto() -> str | None:
    """The ``mosquitto`` binary (Debian installs it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


class _QuietMqtt5Probe(logging.Filter):
    """Drops amqtt's two warnings about a client that asked for MQTT 5, which amqtt does not
    speak: the platform's own MQTT clients try 5 first and fall back to 3.1.1, saying so, so
    every start would otherwise warn twice per client. amqtt's ``Invalid connection from``
    line is dropped for any client: the ``Failed to initialize client session`` line that
    always follows it names the client and the reason, and stays unless that reason is the
    MQTT 5 protocol level."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Invalid connection from"):
            return False
        return not (
            message.startswith("Failed to initialize client session: Invalid protocol from")
            and message.endswith(": 5")
        )


class EmbeddedBroker:
    """A loopback MQTT broker owned by the hub: :meth:`start` and :meth:`stop`.

    ``port=0`` picks a free port; :attr:`port` and :attr:`url` tell which after ``start``.
    """

    def __init__(self, port: int = 1883, host: str = "127.0.0.1", prefer: Kind = "amqtt"):
        self.host = host
        self.requested_port = port
        self.port = port
        self.prefer: Kind = prefer
        self.kind: Kind | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        if self.kind is not None:
            raise ConnectorError("embedded MQTT broker already started")
        self.port = self.requested_port or _free_port(self.host)
        if _accepts(self.host, self.port):
            raise ConnectorError(
                f"cannot start the embedded MQTT broker: {self.host}:{self.port} is already in "
                "use (another broker? point --mqtt at it, or choose another "
                "--embedded-broker-port, 0 to disable)"
            )
        order: list[Kind] = (
            ["amqtt", "mosquitto"] if self.prefer == "amqtt" else ["mosquitto", "amqtt"]
        )
        problems: list[str] = []
        for kind in order:
            try:
                if kind == "amqtt":
                    self._start_amqtt(timeout)
                else:
                    self._start_mosquitto(timeout)
            except ConnectorError as exc:
                problems.append(exc.message)
                log.warning("embedded MQTT broker: %s; trying the next one", exc.message)
                continue
            self.kind = kind
            log.info("embedded MQTT broker (%s) listening on %s", kind, self.url)
            return
        raise ConnectorError("cannot start an embedded MQTT broker: " + "; ".join(problems))

    def stop(self) -> None:
        if self.kind == "amqtt":
            self._stop_amqtt()
        elif self.kind == "mosquitto":
            self._stop_mosquitto()
        if self.kind is not None:
            log.info("embedded MQTT broker (%s) on %s stopped", self.kind, self.url)
        self.kind = None

    # -- amqtt ------------------------------------------------------------------------------

    def _start_amqtt(self, timeout: float) -> None:
        try:
            from amqtt.broker import Broker
        except ImportError as exc:  # pragma: no cover - pinned dependency
            raise ConnectorError(f"amqtt is not installed ({exc})") from exc
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            # Only anonymous access on loopback; none of the logging/$SYS plugins.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        # amqtt and its state machine log every connection and transition at INFO; keep
        # the server log readable unless the operator configured those loggers.
        for name in ("amqtt", "transitions"):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.WARNING)
        broker_log = logging.getLogger("amqtt.broker")
        if not any(isinstance(f, _QuietMqtt5Probe) for f in broker_log.filters):
            broker_log.addFilter(_QuietMqtt5Probe())
        loop = asyncio.new_event_loop()

        async def boot() -> None:
            self._broker = Broker(config, loop=loop)
            await self._broker.start()

        try:
            thread = start_loop_thread("embedded-mqtt-broker", loop, boot, timeout)
        except Exception as exc:  # e.g. OSError: address in use
            raise ConnectorError(f"amqtt did not start on {self.url}: {exc}") from exc
        self._loop, self._thread = loop, thread

    def _stop_amqtt(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), loop).result(10)
        except Exception as exc:  # already half down: still stop the loop
            log.warning("embedded MQTT broker (amqtt) did not shut down cleanly: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = self._broker = None

    # -- mosquitto --------------------------------------------------------------------------

    def _start_mosquitto(self, timeout: float) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise ConnectorError("mosquitto is not installed (Debian package mosquitto)")
        self._tmp = tempfile.TemporaryDirectory(prefix="twinsight-mosquitto-")
        config = Path(self._tmp.name) / "mosquitto.conf"
        lines = [
            f"listener {self.port} {self.host}",
            "allow_anonymous true",
            "persistence false",
            "log_dest stderr",
            "log_type error",
        ]
        if os.geteuid() == 0:  # it would otherwise drop to a "mosquitto" user that may lack
            lines.insert(0, "user root")  # access to the temp dir
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not _accepts(self.host, self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                err = b""
                if self._process.poll() is not None and self._process.stderr is not None:
                    err = self._process.stderr.read()
                self._stop_mosquitto()
                raise ConnectorError(
                    f"mosquitto did not start on {self.url}: {err.decode(errors='replace')}"
                )
            time.sleep(0.02)

    def _stop_mosquitto(self) -> None:
        process = self._process
        if process is not None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            if process.stderr is not None:
                process.stderr.close()
        self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
