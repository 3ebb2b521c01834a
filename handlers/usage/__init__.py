"""Request usage statistics, as CLIProxyAPI keeps them for ``/v0/management/usage``.

``tokens`` reads token counts out of upstream answers, ``reporter`` turns one upstream call into
one record, ``statistics`` aggregates records in memory (and exports and imports them), and
``routes`` serves the three management endpoints.
"""
