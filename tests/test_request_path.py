"""What every request pays for: no dependency of any route runs in FastAPI's thread pool."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from app.main import create_app
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
