"""Shared test setup: opt-in markers, and a guard that fails any test trying to reach the real network."""

from __future__ import annotations

import ipaddress
import socket

import pytest

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "testserver"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-live", action="store_true", help="run tests marked live (real Yahoo Finance)")
    parser.addoption("--run-e2e", action="store_true", help="run tests marked e2e (headless Chromium)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for marker, option in (("live", "--run-live"), ("e2e", "--run-e2e")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"{marker} test: run with {option}")
        for item in items:
            if marker in item.keywords:
                item.add_marker(skip)


class NetworkAccessError(OSError):
    """Raised when a test tries to reach a host that is not this machine."""


def _is_local(host: object) -> bool:
    if not isinstance(host, str):
        return True
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address, *args):  # noqa: ANN001 - mirrors socket.connect
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise NetworkAccessError(f"tests may not reach the network (tried {address[0]})")
    return _real_connect(self, address, *args)


def _guarded_connect_ex(self: socket.socket, address, *args):  # noqa: ANN001
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise NetworkAccessError(f"tests may not reach the network (tried {address[0]})")
    return _real_connect_ex(self, address, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):  # noqa: ANN001
    if host is not None and not _is_local(host if isinstance(host, str) else host.decode()):
        raise NetworkAccessError(f"tests may not resolve {host!r}: no network in tests")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test but the `live` ones runs with the network cut off at the socket layer."""
    if "live" in request.keywords:
        return
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
