"""`GET /api/v1/openapi.json`, the merged document, and Swagger UI 5 served from the package's own
files, so the docs work with no internet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from crm_gateway.config import PUBLIC_PREFIX
from crm_gateway.docs.openapi import OPENAPI_PATH, build_document

DOCS_PATH = "/docs"
ASSETS_PATH = DOCS_PATH + "/assets"
OAUTH2_REDIRECT_PATH = DOCS_PATH + "/oauth2-redirect"
SWAGGER_STATIC = Path(swagger_ui.__file__).parent / "static"

router = APIRouter(include_in_schema=False)


@router.get(OPENAPI_PATH)
async def merged_openapi(request: Request) -> JSONResponse:
    app: FastAPI = request.app
    cached: dict[str, Any] | None = app.state.openapi_cache
    if cached is None:
        document, complete = await build_document(app)
        # A document missing a service is served but not kept, so it fills in once the service is back.
        if complete:
            app.state.openapi_cache = document
        cached = document
    return JSONResponse(cached)


@router.get(DOCS_PATH)
async def swagger_ui_page() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI_PATH,
        title="CRM API",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
        # validatorUrl would send the document to swagger.io for a badge.
        swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": True},
    )


@router.get(OAUTH2_REDIRECT_PATH)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get(PUBLIC_PREFIX + "/docs")
async def public_docs_redirect() -> RedirectResponse:
    return RedirectResponse(DOCS_PATH, status_code=308)


def mount_assets(app: FastAPI) -> None:
    app.mount(ASSETS_PATH, StaticFiles(directory=SWAGGER_STATIC), name="swagger-ui-assets")
