"""Live data out of the platform: WebSocket/SSE streams, webhooks, data quality.

Everything here is a read model fed by the event bus (see ``docs/streams.md``): nothing
reaches into another service's tables.
"""

from twinsight.streams.events import EVENT_TYPES, EventMeta, property_changes, stream_event
from twinsight.streams.filters import StreamFilter, parse_filter
from twinsight.streams.live import AsyncMailbox, Batch, LiveStreams, Subscription

__all__ = [
    "EVENT_TYPES",
    "AsyncMailbox",
    "Batch",
    "EventMeta",
    "LiveStreams",
    "StreamFilter",
    "Subscription",
    "parse_filter",
    "property_changes",
    "stream_event",
]
