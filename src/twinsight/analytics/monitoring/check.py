"""A monitoring file checked against the DTDL models it names (after parsing, before it
runs): a multi-stream monitor's streams must be telemetry the model declares, and a
published score must not take the name of something the model declares (a sensor's
telemetry or a property), which it would shadow in history and charts."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from twinsight.analytics.monitoring.config import MonitoringConfigError, MonitoringSpec

Declared = Callable[[str], Mapping[str, str] | None]
"""``model id -> {name: "telemetry" | "property"}`` (component telemetry as
``component.name``), or ``None`` for a model the repository does not hold."""
ModelOf = Callable[[str], str | None]
"""``twin id -> its model id`` (``None`` when there is no such twin yet)."""


def check_against_models(spec: MonitoringSpec, declared: Declared, model_of: ModelOf) -> None:
    """Every problem at once, with line and field, as :class:`MonitoringConfigError`."""
    problems: list[str] = []
    for i, monitor in enumerate(spec.monitors):
        if monitor.model is not None:
            models = [monitor.model]
        else:  # twins by id: those that exist now (a glob or a later twin is not checked)
            ids = [t for t in monitor.twins or () if not any(c in t for c in "*?[")]
            models = sorted({m for m in map(model_of, ids) if m is not None})
        for model in models:
            names = declared(model)
            if names is None:
                continue  # a model uploaded later is watched then, unchecked
            for j, stream in enumerate(monitor.streams or ()):
                if names.get(stream) != "telemetry":
                    known = ", ".join(sorted(n for n, k in names.items() if k == "telemetry"))
                    problems.append(
                        f"{spec.where('monitors', i, 'streams', j)}: {model} declares no "
                        f"telemetry {stream!r} (it has: {known or 'none'})"
                    )
            if monitor.publish is not None and monitor.publish in names:
                problems.append(
                    f"{spec.where('monitors', i, 'publish')}: {monitor.publish!r} is a "
                    f"{names[monitor.publish]} {model} declares; a published score takes a "
                    "name of its own (say, vibrationAnomalyScore)"
                )
    if problems:
        raise MonitoringConfigError(problems)


__all__ = ["Declared", "ModelOf", "check_against_models"]
