"""Alarms: what is wrong with which twin, raised, acknowledged and cleared (docs/alarms.md).

:class:`AlarmService` keeps the books (de-duplication, lifecycle, events);
:class:`Hysteresis` decides when a noisy signal raises and clears one.
"""

from twinsight.analytics.alarms.hysteresis import Hysteresis
from twinsight.analytics.alarms.service import (
    SEVERITIES,
    STATES,
    AlarmService,
    check_severity,
    severity_rank,
)

__all__ = ["SEVERITIES", "STATES", "AlarmService", "Hysteresis", "check_severity", "severity_rank"]
