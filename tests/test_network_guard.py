"""The autouse guard in conftest.py really cuts tests off from the network."""

import socket

import pytest


def test_resolving_a_public_name_fails() -> None:
    with pytest.raises(OSError, match="no network in tests"):
        socket.getaddrinfo("query2.finance.yahoo.com", 443)


def test_connecting_to_a_public_address_fails() -> None:
    with socket.socket() as sock, pytest.raises(OSError, match="may not reach the network"):
        sock.connect(("93.184.216.34", 443))


def test_loopback_stays_reachable() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
