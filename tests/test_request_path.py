"""What every request pays for: no dependency of any route runs in FastAPI's thread pool, and no
sync route pays a second thread hop for FastAPI to validate its response model."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any, get_type_hints

from fastapi import FastAPI, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from app.main import create_app
from app.responses import model_response
from app.settings import Settings


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _dependencies(sub)


def _is_async(call: Any) -> bool:
    # A dependency class (the bearer scheme) is called through its instance's __call__.
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def test_every_dependency_is_async() -> None:
    # FastAPI runs a synchronous dependency in a worker thread: one more thread hop (~60 us of CPU
    # here) on every request of every route that uses it, for work that does no I/O.
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    routes = [ctx.original_route for ctx in iter_route_contexts(app.routes)]
    sync = {
        f"{route.path}: {getattr(dep.call, '__qualname__', type(dep.call).__qualname__)}"
        for route in routes
        if isinstance(route, APIRoute)
        for dep in _dependencies(route.dependant)
        if dep.call is not None and not _is_async(dep.call)
    }
    assert [r for r in routes if isinstance(r, APIRoute)], "no route found to check"
    assert sync == set()


# Sync routes allowed to return a model for FastAPI to validate in the thread pool, each with its
# reason. Empty: every sync route with a response model answers with a ready Response.
RESPONSE_HOP_EXEMPT: dict[str, str] = {}


def _returns_response(endpoint: Any) -> bool:
    returned = get_type_hints(endpoint).get("return")
    return isinstance(returned, type) and issubclass(returned, Response)


def sync_routes_validated_in_threadpool(app: FastAPI) -> set[str]:
    """Name each sync route with a response model whose return FastAPI would validate in the thread pool.

    FastAPI skips the response model for a returned `Response`; anything else is validated with
    `run_in_threadpool` when the endpoint is sync. The return annotation tells which, and mypy holds
    the body to it (a route annotated `-> Response` cannot return a model).
    """
    return {
        f"{method} {route.path}"
        for ctx in iter_route_contexts(app.routes)
        if isinstance(route := ctx.original_route, APIRoute)
        and route.response_field is not None
        and not _is_async(route.endpoint)
        and not _returns_response(route.endpoint)
        for method in sorted(route.methods or ())
        if f"{method} {route.path}" not in RESPONSE_HOP_EXEMPT
    }


def test_no_sync_route_pays_a_second_thread_hop_for_its_response_model() -> None:
    # A sync route that returns a model pays a second hop (validation of the return value in a
    # worker thread) on every request: it must return app.responses.model_response(...) instead.
    app = create_app(Settings(database_url="sqlite:///:memory:"))
    assert any(
        isinstance(r := ctx.original_route, APIRoute) and r.response_field is not None and not _is_async(r.endpoint)
        for ctx in iter_route_contexts(app.routes)
    ), "no sync route with a response model found to check"
    assert sync_routes_validated_in_threadpool(app) == set()


class Thing(BaseModel):
    name: str


def test_the_check_catches_a_route_that_returns_its_model() -> None:
    app = create_app(Settings(database_url="sqlite:///:memory:"))

    def returns_model() -> Thing:
        return Thing(name="x")

    def returns_response() -> Response:
        return model_response(Thing(name="x"))

    async def async_returns_model() -> Thing:
        return Thing(name="x")

    app.add_api_route("/regressed", returns_model, response_model=Thing)
    app.add_api_route("/ready", returns_response, response_model=Thing)
    app.add_api_route("/async", async_returns_model, response_model=Thing)
    assert sync_routes_validated_in_threadpool(app) == {"GET /regressed"}
