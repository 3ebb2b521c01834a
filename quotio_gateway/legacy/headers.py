"""Which request and response headers cross the gateway, and the X-Forwarded-* it adds."""

from __future__ import annotations

from collections.abc import Iterable

# RFC 9110 §7.6.1 hop-by-hop headers, plus the framing headers the gateway re-creates itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection", "content-length", "expect",
})
# Client-supplied forwarding claims are replaced unless the peer is a trusted proxy.
FORWARDING = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded"})
def safe_value(value: str) -> bool:
    return "\r" not in value and "\n" not in value and "\x00" not in value


def connection_tokens(values: Iterable[str]) -> set[str]:
    tokens: set[str] = set()
    for value in values:
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


def upstream_request_headers(items: Iterable[tuple[str, str]], *, client_ip: str, scheme: str, host: str,
                             trusted_peer: bool, request_id: str) -> list[tuple[str, str]]:
    items = list(items)
    extra_hop = connection_tokens(v for k, v in items if k.lower() == "connection")
    out: list[tuple[str, str]] = []
    prior_xff: list[str] = []
    for name, value in items:
        lname = name.lower()
        if lname in HOP_BY_HOP or lname in extra_hop or lname == "x-request-id":
            continue
        if not safe_value(name) or not safe_value(value):
            continue  # header injection attempt: never reaches the legacy socket
        if lname in FORWARDING:
            if trusted_peer and lname == "x-forwarded-for":
                prior_xff.append(value)
            if not trusted_peer or lname == "x-forwarded-for":
                continue
        out.append((name, value))
    chain = ", ".join([*prior_xff, client_ip]) if prior_xff else client_ip
    out.append(("X-Forwarded-For", chain))
    out.append(("X-Forwarded-Proto", scheme))
    if host and safe_value(host):
        out.append(("X-Forwarded-Host", host))
    out.append(("X-Request-Id", request_id))
    return out


def client_response_headers(raw: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw]
    extra_hop = connection_tokens(v for k, v in pairs if k.lower() == "connection")
    return [(k, v) for k, v in pairs
            if (lk := k.lower()) not in HOP_BY_HOP and lk not in extra_hop and lk != "server"]
