"""The faults the demo factory suffers now and then, for anomaly detection to find.

Each is a physical fault the models carry as an input (``twinsight.sim.faults``), so it
shows in the twins' telemetry the way it would in a real plant:

=================  ===========================  ===============================================
fault              how                          what the telemetry shows
=================  ===========================  ===============================================
bearing wear       motor ``bearing_fault``       vibration up by several mm/s and the winding
                   0.35–0.9, grows over 20 min   5–15 K hotter, over the fault's onset
cavitation         pump ``cavitation`` 0.5–1,    flow down by 10–23 %, discharge pressure
                   within 2 min                  by 13–28 %; the tank level sags
stuck valve        tank ``valve_opening`` stuck  the level climbs towards the rim (past the
                   at 0.35–0.6 (normally 1)      3.5 m high alarm within about half an hour)
=================  ===========================  ===============================================

The plant gets one fault every :data:`MEAN_INTERVAL` of simulated time on average (the
first after about :data:`FIRST_AFTER`, so a new demo shows one soon); a fault lasts a
quarter of an hour to an hour and a half and then clears (the machine is repaired). The
moments, machines and severities come from a seeded random generator, so a run can be
repeated.
"""

from __future__ import annotations

from twinsight.sim.faults import FaultKind

MINUTE = 60.0
MEAN_INTERVAL = 40 * MINUTE
"""Mean simulated time between two faults anywhere in the plant."""
FIRST_AFTER = 10 * MINUTE
"""Mean simulated time to the first fault of a run."""

FAULTS = (
    FaultKind(
        "bearing wear",
        model="motor",
        input="bearing_fault",
        value=(0.35, 0.9),
        duration=(45 * MINUTE, 90 * MINUTE),
        onset=20 * MINUTE,
        effect="vibration and winding temperature rise",
        weight=2.0,
    ),
    FaultKind(
        "cavitation",
        model="pump",
        input="cavitation",
        value=(0.5, 1.0),
        duration=(15 * MINUTE, 40 * MINUTE),
        onset=2 * MINUTE,
        effect="flow and discharge pressure drop",
    ),
    FaultKind(
        "stuck valve",
        model="tank",
        input="valve_opening",
        value=(0.35, 0.6),
        duration=(20 * MINUTE, 45 * MINUTE),
        healthy=1.0,
        effect="the outlet valve is stuck part-closed: the level climbs",
    ),
)
