"""Security services: API bearer tokens and their scopes.

Like every service this package depends only on ``core`` ports; the hub picks the backend.
"""

from twinsight.security.tokens import SCOPES, TokenInfo, TokenService, expand_scopes

__all__ = ["SCOPES", "TokenInfo", "TokenService", "expand_scopes"]
