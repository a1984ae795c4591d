"""Storage backends: the only place SQL lives.

Each backend implements the ports in :mod:`twinsight.core.ports` and turns its driver's
exceptions into Twinsight's own error types. SQLite is the embedded default.
"""
