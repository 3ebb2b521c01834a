"""Shadow mode: the client gets the legacy answer while the native answer is compared off-path.

``capture`` records both legs, ``comparators`` decides match/mismatch (sans-io), ``runner`` bounds
and times the work and records results, ``store`` keeps redacted samples, ``api`` and ``report``
show them.
"""

from .types import Captured, Comparison, Outcome

__all__ = ["Captured", "Comparison", "Outcome"]
