"""Each detector monitor as a model in the registry (kind ``detector``), versioned by its
definition.

Why: an anomaly score or alarm is only as good as the detector, parameters and alarm rule
behind it, and those change when the monitoring file is edited. The registered name is
``monitor.<monitor name>`` (``:`` in a monitor's name becomes ``_``, registry names have
no ``:``); the version's ``training`` holds the canonical JSON of the definition —
detector, parameters, stream(s), residual, settle, freshness, alarm rule — so restarting
with the same file finds the same version, and any change registers the next one. What
twins it watches (``model``/``twins``) are attachments, and ``publish`` only says where the
score goes: neither makes a new version. The artefact is the definition itself: the
detectors learn online, one per twin, from the live data.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from twinsight.analytics.monitoring.config import Monitor, MonitoringSpec
from twinsight.analytics.registry import ModelRegistry
from twinsight.core.errors import NotFound, TwinsightError

log = logging.getLogger(__name__)

DEFINITION = "definition"
"""The key of the canonical definition in a version's ``training``."""
_NOT_DEFINITION = {"name", "model", "twins", "publish", "publish_every"}


def model_name(monitor: Monitor) -> str:
    """The registry name of a monitor's detector."""
    return f"monitor.{monitor.name.replace(':', '_')}"


def definition(monitor: Monitor) -> str:
    """The canonical JSON of what makes the monitor's scores and alarms what they are."""
    data: dict[str, Any] = monitor.model_dump(mode="json", by_alias=True, exclude=_NOT_DEFINITION)
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def register_monitors(spec: MonitoringSpec, registry: ModelRegistry) -> dict[str, int]:
    """The registered version of each detector monitor, by monitor name: the one whose
    definition matches (made active again if it was not), else a new one; attached pinned
    to the DTDL model or the (existing, non-glob) twins the monitor names. A monitor whose
    name the registry refuses is logged and left unversioned."""
    versions: dict[str, int] = {}
    for monitor in spec.monitors:
        if monitor.detector is None:
            continue  # a limit is a rule, not a model
        name = model_name(monitor)
        wanted = definition(monitor)
        try:
            try:
                known = registry.versions(name)
            except NotFound:
                known = []
            same = [v.version for v in known if v.training.get(DEFINITION) == wanted]
            if same:
                version = same[-1]
                if registry.active_version(name) != version:
                    registry.activate(name, version)
            else:
                watched = monitor.signal
                version = registry.register(
                    name,
                    "detector",
                    json.loads(wanted),
                    description=f"monitor {monitor.name}: detector {monitor.detector} on "
                    f"{watched} (learns online per twin; alarm at {monitor.alarm.raise_at})",
                    training={DEFINITION: wanted, "monitor": monitor.name},
                ).version
        except TwinsightError as exc:
            log.warning("monitor %s is not registered as a model: %s", monitor.name, exc)
            continue
        versions[monitor.name] = version
        targets = (
            [("model", monitor.model)]
            if monitor.model is not None
            else [("twin", t) for t in monitor.twins or () if not any(c in t for c in "*?[")]
        )
        for kind, target in targets:
            try:
                registry.attach(name, kind, target, version)
            except TwinsightError as exc:
                log.info("monitor %s not attached to %s %s: %s", name, kind, target, exc)
    return versions
