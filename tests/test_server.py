"""`BackgroundServer`: uvicorn on a thread, started and stopped cleanly, and a clear error when it cannot start."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from plugin.lab.server import BackgroundServer, ServerStartError


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def make_app(events: list[str] | None = None) -> Starlette:
    """A small real ASGI app; its lifespan notes when the server starts and stops it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if events is not None:
            events.append("startup")
        yield
        if events is not None:
            events.append("shutdown")

    return Starlette(routes=[Route("/", hello)], lifespan=lifespan)


def server_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("BackgroundServer")}


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every test here must end with exactly the threads it started with."""
    before = set(threading.enumerate())
    yield
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert not left, f"threads left running: {left}"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program is listening on."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield squatter.getsockname()[1]


def test_start_returns_a_url_that_answers_over_http() -> None:
    server = BackgroundServer(make_app())
    try:
        url = server.start()
        assert url == server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
        assert server.running
        assert httpx.get(url).text == "hello"
    finally:
        server.stop()


def test_stop_frees_the_port_and_can_be_called_twice() -> None:
    server = BackgroundServer(make_app())
    server.start()
    port = server.port
    server.stop()
    server.stop()
    assert not server.running
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # would fail if the server still held it
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_a_stopped_server_starts_again_and_runs_the_app_lifespan_each_time() -> None:
    events: list[str] = []
    server = BackgroundServer(make_app(events))
    for _ in range(2):
        url = server.start()
        assert httpx.get(url).status_code == 200
        server.stop()
    assert events == ["startup", "shutdown", "startup", "shutdown"]


def test_start_on_a_running_server_returns_the_same_url() -> None:
    with BackgroundServer(make_app()) as server:
        assert server.start() == server.url
        assert len(server_threads()) == 1


def test_a_fixed_port_is_used_as_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with BackgroundServer(make_app(), port=port) as server:
        assert server.port == port
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "hello"


def test_a_port_in_use_is_a_clear_error_not_a_hang(taken_port: int) -> None:
    server = BackgroundServer(make_app(), port=taken_port, startup_timeout=30)
    with pytest.raises(ServerStartError) as caught:
        server.start()
    assert "already in use" in caught.value.reason
    assert f"port {taken_port}" in str(caught.value)
    assert not server.running
    assert not server_threads()


def test_a_failing_lifespan_startup_is_a_clear_error_with_the_apps_own_message() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("cannot open the price database")
        yield

    with pytest.raises(ServerStartError) as caught:
        BackgroundServer(Starlette(lifespan=lifespan)).start()
    assert caught.value.reason == "the app's startup failed: RuntimeError: cannot open the price database"
    assert "Traceback" in caught.value.details
    assert not server_threads()


def test_startup_errors_are_raised_not_printed(taken_port: int, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ServerStartError):
        BackgroundServer(make_app(), port=taken_port).start()
    assert capfd.readouterr().err == ""


def test_an_app_that_cannot_be_imported_is_a_clear_error() -> None:
    with pytest.raises(ServerStartError, match='Could not import module "no_such_module"'):
        BackgroundServer("no_such_module:app").start()


def test_an_import_string_and_a_factory_are_accepted() -> None:
    with BackgroundServer("tests.test_server:make_app", factory=True) as server:
        assert httpx.get(server.url).text == "hello"


def test_something_that_is_not_an_app_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="ASGI application"):
        BackgroundServer(42)


def test_a_startup_that_never_finishes_times_out_and_is_cancelled() -> None:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.sleep(3600)
        yield

    with pytest.raises(ServerStartError, match=r"not ready within 0\.3 s"):
        BackgroundServer(Starlette(lifespan=lifespan), startup_timeout=0.3).start()
    assert not server_threads()


def test_stop_returns_even_when_a_request_never_finishes() -> None:
    arrived = threading.Event()

    async def never_answers(request: Request) -> PlainTextResponse:
        arrived.set()
        await asyncio.sleep(3600)
        return PlainTextResponse("too late")

    server = BackgroundServer(Starlette(routes=[Route("/slow", never_answers)]), shutdown_timeout=0.2)
    url = server.start()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(f"{url}/slow", timeout=10).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert arrived.wait(10), "the request never reached the app"
    server.stop()
    caller.join(10)
    assert not server_threads()
    assert not caller.is_alive() and outcome != [200], "the request that never finishes was not cut off"


def test_starting_a_server_stops_the_running_one_of_the_same_name() -> None:
    app = make_app()
    first = BackgroundServer(app)
    first.start()
    old_port = first.port
    second = BackgroundServer(app)  # what re-running a notebook cell does
    try:
        second.start()
        assert not first.running
        assert second.running
        assert len(server_threads()) == 1
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{old_port}/")
    finally:
        second.stop()


def test_servers_with_different_names_run_side_by_side() -> None:
    with BackgroundServer(make_app(), name="one") as one, BackgroundServer(make_app(), name="two") as two:
        assert one.running and two.running
        assert one.port != two.port
        assert httpx.get(one.url).text == httpx.get(two.url).text == "hello"


def test_the_context_manager_starts_and_stops() -> None:
    with BackgroundServer(make_app()) as server:
        assert server.running
        assert httpx.get(server.url).status_code == 200
    assert not server.running
    assert not server_threads()


def test_repr_says_whether_it_runs() -> None:
    server = BackgroundServer(make_app(), name="shown")
    assert repr(server) == "<BackgroundServer name='shown' stopped>"
    with server:
        assert repr(server) == f"<BackgroundServer name='shown' url='{server.url}'>"


def test_starting_leaves_the_kernels_logging_handlers_alone() -> None:
    """uvicorn's own logging setup replaces handlers under logging's lock; in a Jupyter kernel a handler writing to
    the notebook then waited on the output thread, which waited on that lock: a 10 s stall at every start."""
    handler = logging.StreamHandler()
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(handler)
    root_handlers = list(logging.getLogger().handlers)
    try:
        with BackgroundServer(make_app(), name="test-logging"):
            assert handler in logger.handlers
            assert logging.getLogger().handlers == root_handlers
    finally:
        logger.removeHandler(handler)
