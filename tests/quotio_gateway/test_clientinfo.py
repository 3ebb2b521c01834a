"""quotio_gateway/clientinfo.py: who is calling, worked out only when someone asks."""

from __future__ import annotations

from typing import Any
from unittest import mock

from aiohttp.test_utils import make_mocked_request

from quotio_gateway import clientinfo
from quotio_gateway.clientinfo import ClientAddress, LazyClientAddress, client_address


def request(peer: str, **headers: str) -> Any:
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 4321)
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_forwarding_headers_count_only_from_a_trusted_peer() -> None:
    trusted = ("10.0.0.0/8",)
    assert client_address(request("203.0.113.9", **{"X-Forwarded-For": "1.2.3.4"}), trusted) == \
        ClientAddress("203.0.113.9", False, "203.0.113.9")
    assert client_address(request("10.0.0.2", **{"X-Forwarded-For": "1.2.3.4, 10.0.0.7"}), trusted) == \
        ClientAddress("1.2.3.4", True, "10.0.0.2")
    assert client_address(request("10.0.0.2", **{"X-Real-IP": "5.6.7.8"}), trusted) == \
        ClientAddress("5.6.7.8", True, "10.0.0.2")


def test_the_lazy_address_is_worked_out_once_and_only_when_asked() -> None:
    req = request("10.0.0.2", **{"X-Forwarded-For": "1.2.3.4"})
    with mock.patch.object(clientinfo, "client_address", wraps=client_address) as spy:
        lazy = LazyClientAddress(req, ("10.0.0.0/8",))
        assert spy.call_count == 0
        assert (lazy.ip, lazy.peer, lazy.trusted_peer) == ("1.2.3.4", "10.0.0.2", True)
        assert spy.call_count == 1
