"""The HTTP API: Azure Digital Twins data-plane REST API (api-version 2023-10-31) compatible.

Routes are thin: they decode the request, call a service on the hub, and encode the answer.
"""

from twinsight.api.app import create_app

__all__ = ["create_app"]
