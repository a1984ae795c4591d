"""Connectors: the protocol edges that turn device traffic into
:class:`~twinsight.core.messages.RawMessage` batches for a
:class:`~twinsight.core.messages.MessageSink` (the ingest pipeline).

Each protocol library (paho-mqtt, amqtt, aiocoap) is imported only in its own module here,
and its exceptions become :class:`~twinsight.core.errors.ConnectorError`, so nothing else in
Twinsight depends on which library is underneath. Connectors interpret nothing: mapping,
validation and dead-lettering are the pipeline's job.
"""
