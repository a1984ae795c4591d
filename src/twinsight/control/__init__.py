"""Decide and act: commands to devices, desired state, rules, safety guards, optimisation.

Everything that would change the physical world goes through one path: an
:class:`~twinsight.control.actions.Action` is checked by the guards, held for approval or
refused as they decide, delivered to the device, and recorded in the audit log.
"""
