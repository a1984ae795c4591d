"""Monitoring: detectors and limits attached declaratively to twins' streams, run live on
the event bus, raising and clearing alarms (docs/alarms.md)."""

from twinsight.analytics.monitoring.config import (
    Monitor,
    MonitoringConfigError,
    MonitoringSpec,
    load_monitoring_file,
    parse_monitoring,
)
from twinsight.analytics.monitoring.registry import detector_classes, make_detector
from twinsight.analytics.monitoring.runner import MonitoringRunner, StreamScore

__all__ = [
    "Monitor",
    "MonitoringConfigError",
    "MonitoringRunner",
    "MonitoringSpec",
    "StreamScore",
    "detector_classes",
    "load_monitoring_file",
    "make_detector",
    "parse_monitoring",
]
