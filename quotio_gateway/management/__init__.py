"""Native ``/v0/management`` endpoints: access control, wire helpers and config-backed handlers."""

from .auth import (
    MANAGEMENT_GUARD,
    ManagementGuard,
    check_management_access,
    client_ip,
    management_key_id,
    setup_management_guard,
)
from .routes import setup_management

__all__ = [
    "MANAGEMENT_GUARD",
    "ManagementGuard",
    "check_management_access",
    "client_ip",
    "management_key_id",
    "setup_management",
    "setup_management_guard",
]
