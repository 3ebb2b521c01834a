"""The log files CLIProxyAPI keeps and its management API reads: ``main.log`` with its rotated
siblings, and the per-request logs (``error-*.log`` when ``request-log`` is off)."""
