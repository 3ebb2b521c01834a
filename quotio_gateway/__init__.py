"""quotio-gateway: a strangler gateway in front of CLIProxyAPI."""

__version__ = "0.1.0"
