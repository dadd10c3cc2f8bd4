"""The operations console (``/console``): pages, sessions, charts; see :mod:`.routes`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from gateway.api.console.routes import STATIC_DIR, _Redirect, router

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the console's routes, its static files and the login redirect to ``app``."""
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(_Redirect, _to_login)


async def _to_login(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/console/login", status_code=303)
