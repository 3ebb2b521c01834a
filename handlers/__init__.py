"""Native behaviour of the gateway: handlers that answer requests without the legacy binary."""
