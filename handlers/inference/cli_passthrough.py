"""``POST /v1internal:<method>`` for methods other than (stream)generateContent.

The legacy Gemini CLI handler forwards any other method (``loadCodeAssist``, ``onboardUser``,
``countTokens``, ...) as it came, headers included (the client's own Google token rides along), to
the Code Assist host, and answers:

* a transport failure: 400 ``{"error":{"message":"Invalid request: <error>","type":"invalid_request_error"}}``;
* a non-2xx answer: 400 with the upstream body as the ``message`` string;
* a 2xx answer: 200 with the first value of each upstream header and the body.

The host is the ``gemini-cli`` ``inference-base-url`` of the endpoint table (config.yaml
``gateway.provider-endpoints`` may point it at a relay); the global ``proxy-url`` applies, as the
legacy's ``util.SetProxy`` does.
"""

from __future__ import annotations

from aiohttp import web
from multidict import CIMultiDict

from handlers.logfiles.request_log_writer import UPSTREAM_LOG_KEY, records_requests
from handlers.logins.endpoints import endpoints_for
from handlers.providers.base import PreparedRequest, UpstreamError, classify
from handlers.providers.upstream_log import UpstreamLog
from quotio_gateway.appkeys import CONFIG_STORE
from quotio_gateway.dispatch import UPSTREAM_SERVER_KEY
from quotio_gateway.management.responses import json_response

from .runtime import InferenceRuntime

# Not copied either way: connection handling belongs to each hop, and the body is re-framed. The
# body was decoded when it was read, so its Content-Encoding no longer describes it. Accept-Encoding
# is left to the client (Go's gzip, decoded on the way back), so the answer's bytes pass unchanged.
_NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length", "te",
                            "upgrade", "proxy-connection", "accept-encoding", "content-encoding"})
_NOT_RETURNED = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})


def _bad_request(message: str) -> web.Response:
    # Gin's c.JSON of handlers.ErrorResponse (gemini-cli_handlers.go:89-111): its charset, and
    # Go's HTML-safe escaping of the upstream's text.
    return json_response(400, {"error": {"message": message, "type": "invalid_request_error"}})


async def forward_cli_method(request: web.Request, runtime: InferenceRuntime, raw: bytes) -> web.Response:
    cfg = request.app[CONFIG_STORE].current
    base = endpoints_for("gemini-cli", cfg).inference_base_url.rstrip("/")
    url = base + request.rel_url.raw_path_qs
    headers = tuple((k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED)
    # The upstream client sends as Go's http.Client does: its default agent and encoding where the
    # client set none, redirects followed, the environment's proxy when proxy-url is empty.
    prepared = PreparedRequest("POST", url, headers, raw)
    try:
        result = await runtime.client.request(prepared, cfg.proxy_url, classify)
    except UpstreamError as exc:
        if exc.status is None:
            return _bad_request(f'Invalid request: Post "{url}": {exc.body.decode("utf-8", errors="replace")}')
        return _bad_request(exc.body.decode("utf-8", errors="replace"))
    out: CIMultiDict[str] = CIMultiDict()
    for name in result.headers:
        if name.lower() not in _NOT_RETURNED and name not in out:
            out[name] = result.headers[name]
    response = web.Response(status=200, body=result.body, headers=out)
    response[UPSTREAM_SERVER_KEY] = "Server" in out
    if records_requests(cfg):
        # The legacy handler sets the forwarded answer as the request log's API RESPONSE
        # (gemini-cli_handlers.go:128); this call records no API REQUEST.
        upstream_log = UpstreamLog()
        upstream_log.set_response(result.body)
        request[UPSTREAM_LOG_KEY] = upstream_log
    return response
