"""The mapping file format, as pydantic records: one place that says what a mapping file may
contain, and gives precise errors (with the location inside the file) when it does not."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PayloadFormat = Literal["json", "senml", "number", "csv"]
TimeFormat = Literal["iso8601", "epoch_s", "epoch_ms", "epoch_us"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSpec(_Strict):
    """Where the source timestamp is in the payload, and how it is written."""

    field: str = Field(description="JSON field path (dots, e.g. 'meta.ts') or CSV column.")
    format: TimeFormat = "iso8601"


class CsvSpec(_Strict):
    columns: list[str] = Field(min_length=1, description="Column names, in order.")
    delimiter: str = Field(",", min_length=1, max_length=1)


class ValueSpec(_Strict):
    """One value taken from the payload into a twin property or telemetry.

    ``field`` (JSON path or CSV column) or ``record`` (SenML name) says where the value is;
    ``property`` or ``telemetry`` says where it goes (``component.name`` for a component).
    Both sides may use ``{captures}`` from the topic pattern, and a SenML ``record`` may
    itself capture (``record: "{name}"`` maps every record of a pack by its name).
    """

    field: str | None = None
    record: str | None = None
    property: str | None = None
    telemetry: str | None = None
    unit: str | None = Field(
        None,
        description="Unit the device sends (DTDL, SenML or pint name); converted to the "
        "unit the model declares. SenML records carry their own unit.",
    )
    optional: bool = Field(False, description="A missing field is skipped, not an error.")

    @model_validator(mode="after")
    def _one_target(self) -> ValueSpec:
        if (self.property is None) == (self.telemetry is None):
            raise ValueError("give exactly one of 'property' or 'telemetry'")
        if self.field is not None and self.record is not None:
            raise ValueError("give 'field' (JSON/CSV) or 'record' (SenML), not both")
        return self


class RuleSpec(_Strict):
    """One mapping rule: messages whose address matches ``topic`` go to twin ``twin``."""

    name: str = Field(min_length=1)
    topic: str = Field(
        min_length=1,
        description="Pattern of the MQTT topic / HTTP or CoAP path: literal levels, "
        "'{capture}' levels, '+' (one level) and a final '#' (any remaining levels).",
    )
    source: Literal["any", "mqtt", "http", "coap"] = "any"
    twin: str = Field(min_length=1, description="Twin id, e.g. '{line}-{machine}'.")
    format: PayloadFormat
    time: TimeSpec | None = None
    csv: CsvSpec | None = None
    values: list[ValueSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _format_options(self) -> RuleSpec:
        if self.format == "csv" and self.csv is None:
            raise ValueError("format 'csv' needs a 'csv' section with the columns")
        if self.format != "csv" and self.csv is not None:
            raise ValueError(f"a 'csv' section makes no sense with format {self.format!r}")
        if self.format == "senml" and self.time is not None:
            raise ValueError("SenML carries its own times (bt/t); drop 'time'")
        if self.format == "number" and (self.time is not None or len(self.values) != 1):
            raise ValueError("format 'number' maps exactly one value and has no 'time'")
        for i, value in enumerate(self.values):
            if self.format == "senml" and value.field is not None:
                raise ValueError(f"values[{i}]: SenML values are selected by 'record'")
            if self.format in ("json", "csv") and value.field is None:
                raise ValueError(f"values[{i}]: {self.format} values need a 'field'")
        return self


class MappingSpec(_Strict):
    version: Literal[1] = 1
    mappings: list[RuleSpec] = Field(min_length=1)
    max_future_seconds: float = Field(
        300.0, gt=0, description="A source time further ahead of the platform clock is refused."
    )
    max_age_days: float = Field(
        3650.0, gt=0, description="A source time older than this is refused as absurd."
    )
