"""What a connector hands to the ingest pipeline: bytes as they arrived, and where from.

Connectors (MQTT, HTTP, CoAP, ...) do no interpretation: they wrap each message in a
:class:`RawMessage` and pass batches to the pipeline, which maps, validates and stores them
(or keeps them in the dead-letter store with the reason). Keeping the raw bytes means a
message can be replayed after its mapping is fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

Source = Literal["mqtt", "http", "coap", "replay", "test"]


class RawMessage(NamedTuple):
    """One message as received (a named tuple, not a frozen dataclass: connectors build
    one per message at tens of thousands a second, and a frozen dataclass's ``__init__``
    costs several times a tuple's)."""

    source: str
    """Protocol it came in on: ``mqtt``, ``http``, ``coap`` (free text for other connectors)."""
    address: str
    """MQTT topic, HTTP path or CoAP URI path (without a leading slash for HTTP/CoAP)."""
    payload: bytes
    received: datetime
    """Arrival time at the platform (aware, UTC)."""
    client: str = ""
    """Who sent it (MQTT client id, remote address), for data quality and flood control."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What became of a batch: values applied, and messages kept as dead letters."""

    messages: int
    values: int
    dead_letters: int
    late_values: int = 0
    duplicate_values: int = 0


class MessageSink(Protocol):
    """Where connectors deliver batches. ``submit`` returns only once everything in the batch
    is durably stored (values, or dead letters), so a connector may acknowledge the messages
    to their sender (e.g. MQTT QoS 1 PUBACK) right after it returns."""

    def submit(self, messages: list[RawMessage]) -> IngestResult: ...


class MessagePublisher(Protocol):
    """Sends a message to a device network (an MQTT broker): what virtual devices publish
    through, and later what commands to devices go out on."""

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None: ...
