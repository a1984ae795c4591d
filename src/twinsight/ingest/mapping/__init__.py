"""Declarative payload mapping: which topic goes to which twin, how to read the payload, and
where each value goes. See ``docs/ingest.md`` for the file format with examples."""

from twinsight.ingest.mapping.loader import load_mapping_file, parse_mapping
from twinsight.ingest.mapping.rules import MappedColumn, MappedValue, Mapping, Rule

__all__ = ["MappedColumn", "MappedValue", "Mapping", "Rule", "load_mapping_file", "parse_mapping"]
