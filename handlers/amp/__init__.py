"""The Amp CLI module of CLIProxyAPI v6.7.15 (``internal/api/modules/amp/``), native.

``routes`` mounts the provider aliases (``/api/provider/<provider>/...``) over the native
inference and model-list handlers; ``fallback`` decides per request whether a local provider,
an ``ampcode.model-mappings`` target or the Amp upstream answers; ``control_plane`` mounts the
passthrough routes (``/api/user``, ``/threads``, ``/auth``, ...) and the Gemini bridge
(``/api/provider/google/v1beta1/*``); ``upstream`` is the reverse proxy to
``ampcode.upstream-url``; ``secret`` finds the key sent there.
"""
