"""Go's ProxyFromEnvironment rules for calls without a proxy-url (env_proxy.py), and the calls."""

from __future__ import annotations

import pytest

from handlers.providers import APIKeyCredential, OpenAICompatExecutor, UpstreamClient, UpstreamRequest
from handlers.providers.env_proxy import EnvProxy

PROXY = "http://proxy.example:3128"


@pytest.mark.parametrize(("environ", "scheme", "host", "port", "expected"), [
    # HTTPS_PROXY for https, HTTP_PROXY for http; upper case before lower case.
    ({"HTTPS_PROXY": PROXY}, "https", "api.anthropic.com", 443, PROXY),
    ({"HTTPS_PROXY": PROXY}, "http", "api.anthropic.com", 80, ""),
    ({"HTTP_PROXY": PROXY}, "http", "api.anthropic.com", 80, PROXY),
    ({"http_proxy": "http://low:1", "HTTP_PROXY": PROXY}, "http", "h.example", 80, PROXY),
    ({"https_proxy": "http://low:1"}, "https", "h.example", 443, "http://low:1"),
    # A value without a scheme is read as http://.
    ({"HTTPS_PROXY": "proxy.example:3128"}, "https", "h.example", 443, PROXY),
    # Never for localhost or a loopback address.
    ({"HTTP_PROXY": PROXY}, "http", "localhost", 80, ""),
    ({"HTTP_PROXY": PROXY}, "http", "127.0.0.1", 8080, ""),
    ({"HTTP_PROXY": PROXY}, "http", "::1", 8080, ""),
    ({"HTTP_PROXY": PROXY}, "http", "10.0.0.1", 80, PROXY),
    # NO_PROXY: a domain covers its subdomains, a leading dot or *. only them, ports must agree.
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, "https", "example.com", 443, ""),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, "https", "api.example.com", 443, ""),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com"}, "https", "notexample.com", 443, PROXY),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": ".example.com"}, "https", "example.com", 443, PROXY),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "*.example.com"}, "https", "a.example.com", 443, ""),
    ({"HTTPS_PROXY": PROXY, "no_proxy": " Example.COM:443 "}, "https", "api.example.com", 443, ""),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "example.com:8443"}, "https", "api.example.com", 443, PROXY),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "http", "10.1.2.3", 80, ""),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "10.0.0.1:8080"}, "http", "10.0.0.1", 80, PROXY),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "10.0.0.1"}, "http", "10.0.0.1", 80, ""),
    ({"HTTP_PROXY": PROXY, "NO_PROXY": "[fd00::1]:80"}, "http", "fd00::1", 80, ""),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, "https", "h.example", 443, ""),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": ":443,,"}, "https", "h.example", 443, PROXY),
    # A CGI process (REQUEST_METHOD set) does not take HTTP_PROXY, which a client could set.
    ({"HTTP_PROXY": PROXY, "REQUEST_METHOD": "GET"}, "http", "h.example", 80, ""),
    ({"HTTPS_PROXY": PROXY, "REQUEST_METHOD": "GET"}, "https", "h.example", 443, PROXY),
    ({}, "https", "h.example", 443, ""),
])
def test_proxy_for(environ: dict[str, str], scheme: str, host: str, port: int, expected: str) -> None:
    assert EnvProxy.from_environ(environ).proxy_for(scheme, host, port) == expected


def test_no_variables_means_inactive() -> None:
    assert not EnvProxy.from_environ({"NO_PROXY": "x"}).active
    assert EnvProxy.from_environ({"https_proxy": PROXY}).active


async def test_a_call_without_proxy_url_goes_through_http_proxy(upstream) -> None:
    # The fake upstream plays the proxy: the request reaches it in absolute form for a host that
    # is never resolved.
    upstream.answer_json(200, {"ok": True})
    client = UpstreamClient(environ={"HTTP_PROXY": upstream.url})
    try:
        target = APIKeyCredential("compat", "sk-1", "http://upstream.invalid/v1")
        result = await OpenAICompatExecutor(client).execute(target, UpstreamRequest("m", {"messages": []}))
        assert result.json() == {"ok": True}
        assert upstream.last.headers["Host"] == "upstream.invalid"
        assert upstream.last.path_qs == "/v1/chat/completions"
    finally:
        await client.close()


async def test_loopback_no_proxy_and_a_proxy_url_of_its_own_skip_the_environment(upstream) -> None:
    upstream.answer_json(200, {"ok": True})
    dead = "http://127.0.0.1:9"  # nothing listens: a call sent there would fail
    client = UpstreamClient(environ={"HTTP_PROXY": dead})
    try:
        executor = OpenAICompatExecutor(client)
        request = UpstreamRequest("m", {"messages": []})
        # Loopback upstream: straight there, whatever HTTP_PROXY says.
        assert (await executor.execute(APIKeyCredential("compat", "sk-1", upstream.url + "/v1"), request)).json() \
            == {"ok": True}
        # The key's own proxy-url wins over the environment.
        own = APIKeyCredential("compat", "sk-1", "http://other.invalid/v1", proxy_url=upstream.url)
        assert (await executor.execute(own, request)).json() == {"ok": True}
        assert upstream.last.headers["Host"] == "other.invalid"
    finally:
        await client.close()


async def test_the_global_proxy_url_serves_calls_that_name_none(upstream) -> None:
    # config.yaml's proxy-url (set on the client per config) comes before the environment, and a
    # credential's own proxy before both: an OAuth file without proxy_url goes through it.
    upstream.answer_json(200, {"ok": True})
    client = UpstreamClient(environ={"HTTP_PROXY": "http://127.0.0.1:9"})
    client.default_proxy = upstream.url
    try:
        executor = OpenAICompatExecutor(client)
        bare = APIKeyCredential("compat", "sk-1", "http://upstream.invalid/v1")
        assert (await executor.execute(bare, UpstreamRequest("m", {"messages": []}))).json() == {"ok": True}
        assert upstream.last.headers["Host"] == "upstream.invalid"
        # Through aiohttp's client as through Go's: no Accept the executor did not set.
        assert "Accept" not in upstream.last.headers
    finally:
        await client.close()
