"""Live data in: connectors, declarative payload mapping, the ingest pipeline and the
dead-letter store.

Data flow: a connector wraps bytes in a :class:`~twinsight.core.messages.RawMessage` →
:class:`~twinsight.ingest.pipeline.IngestPipeline` maps them with the rules of a mapping
file (:mod:`twinsight.ingest.mapping`) → validates each value against the twin's DTDL model,
converts units → records history, updates twin state by source time → keeps whatever could
not be used as a dead letter with the reason.
"""
