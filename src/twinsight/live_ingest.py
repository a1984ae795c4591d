"""Choosing and starting the live-data connectors for a served hub.

Kept out of :mod:`twinsight.ingest` because it picks concrete connectors (like the hub picks
storage backends) and out of :mod:`twinsight.server` so the choice is testable without
uvicorn. One :class:`IngestOptions` record describes it; :func:`start_ingest` turns it into
started connectors owned by the hub (stopped by ``hub.close()``):

* ``mqtt_url`` given → subscribe to that broker;
* otherwise, unless ``embedded_broker_port`` is 0 → start the embedded broker on loopback and
  subscribe to it (a busy *default* port only skips it with a warning, so a second server on
  the same machine still starts; a busy port asked for explicitly is an error);
* ``coap_port`` → a CoAP endpoint.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import Literal

from twinsight.core.errors import ConnectorError
from twinsight.hub import Hub, Lifecycle
from twinsight.ingest.connectors.coap import CoapEndpoint
from twinsight.ingest.connectors.embedded_broker import EmbeddedBroker
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings
from twinsight.ingest.mapping import load_mapping_file
from twinsight.streams.quality import load_quality_file

log = logging.getLogger("twinsight.server")

DEFAULT_EMBEDDED_BROKER_PORT = 1883


@dataclass(frozen=True, slots=True)
class IngestOptions:
    mqtt_url: str | None = None
    mqtt_topics: tuple[str, ...] = ("#",)
    mqtt_qos: Literal[0, 1] = 1
    mqtt_protocol: Literal["3.1.1", "5"] = "5"
    mqtt_client_id: str | None = None
    """None → ``twinsight-<host name>-<HTTP port>``: stable across restarts (so the broker
    redelivers what was not stored), distinct for two servers on one machine."""
    mqtt_shared_group: str | None = None
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_ca: str | None = None
    coap_port: int = 0
    coap_host: str = "127.0.0.1"
    embedded_broker_port: int | None = None
    """None → 1883 if free; 0 → no embedded broker."""
    mapping_file: str | None = None
    """Payload mapping file (docs/ingest.md); without one every message is a dead letter."""
    quality_file: str | None = None
    """Expected value ranges for data quality (the ``quality:`` format of docs/streams.md)."""

    def mqtt_settings(self, client_id: str) -> MqttSettings | None:
        """The external broker's settings, or None without ``mqtt_url``."""
        if not self.mqtt_url:
            return None
        return MqttSettings(
            self.mqtt_url,
            topics=self.mqtt_topics,
            qos=self.mqtt_qos,
            protocol=self.mqtt_protocol,
            client_id=client_id,
            username=self.mqtt_username,
            password=self.mqtt_password,
            ca_file=self.mqtt_ca,
            shared_group=self.mqtt_shared_group,
        )

    def settings_check(self) -> None:
        """Raise :class:`~twinsight.core.errors.TwinsightError` for settings that cannot
        work (bad URL, topic, group), before anything is opened or started."""
        self.mqtt_settings("check")


def start_ingest(hub: Hub, options: IngestOptions, http_port: int) -> list[Lifecycle]:
    """Start what ``options`` asks for, feeding ``hub.ingest``; returns what was started.

    Raises :class:`~twinsight.core.errors.ConnectorError` (nothing left running) when a
    connector cannot start for a reason retrying cannot fix.
    """
    sink = getattr(hub, "ingest", None)
    if sink is None:
        log.warning("live ingest not started: this hub has no ingest pipeline")
        return []
    if options.mapping_file is not None:
        hub.ingest.mapping = load_mapping_file(options.mapping_file)  # MappingError: bad input
        log.info(
            "payload mapping %s: %d rule(s)", options.mapping_file, len(hub.ingest.mapping.rules)
        )
    elif hub.ingest.mapping is None:
        log.warning(
            "no payload mapping (--mapping FILE): every message will be kept as a dead letter "
            "until one is given and the letters are replayed"
        )
    if options.quality_file is not None:
        hub.quality.configure(load_quality_file(options.quality_file))
        log.info("data-quality ranges from %s", options.quality_file)
    client_id = options.mqtt_client_id or f"twinsight-{socket.gethostname()}-{http_port}"
    parts: list[Lifecycle] = []
    settings: MqttSettings | None = None
    if options.mqtt_url:
        settings = options.mqtt_settings(client_id)
    elif options.embedded_broker_port != 0:
        port = options.embedded_broker_port or DEFAULT_EMBEDDED_BROKER_PORT
        broker = EmbeddedBroker(port=port)
        try:
            broker.start()
        except ConnectorError as exc:
            if options.embedded_broker_port is not None:
                raise
            log.warning("embedded MQTT broker not started: %s", exc.message)
        else:
            hub.connectors.append(broker)  # owned from now on; stopped after its subscriber
            parts.append(broker)
            # amqtt speaks MQTT 3.1.1 only; QoS 1 so what is not stored is redelivered.
            settings = MqttSettings(broker.url, topics=options.mqtt_topics, qos=1, protocol="3.1.1")
    else:
        log.info("no MQTT: neither --mqtt nor the embedded broker (--embedded-broker-port 0)")
    if settings is not None:
        parts.append(MqttConnector(sink, settings, hub.clock))
    if options.coap_port:
        parts.append(CoapEndpoint(sink, hub.clock, port=options.coap_port, host=options.coap_host))
    hub.start_connectors([p for p in parts if not isinstance(p, EmbeddedBroker)])
    return parts
