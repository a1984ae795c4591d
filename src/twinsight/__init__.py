"""Twinsight: an open-source digital-twin platform.

The package is layered (see ``docs/architecture.md``): ``core`` holds pure domain values,
``models`` the DTDL language and model repository, ``graph`` the twin graph, ``store`` the
storage backends, ``api`` the HTTP surface, and :mod:`twinsight.hub` ties them together.
"""

__version__ = "0.1.0"
