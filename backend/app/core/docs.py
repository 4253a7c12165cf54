"""/docs with Swagger UI served by the service itself, so the page works with no internet access
(and under a Content-Security-Policy that allows only 'self'). FastAPI's default page loads
Swagger UI's script and stylesheet from a public CDN; this is FastAPI's documented
self-hosting recipe, with the files from the `fastapi-swagger` package (Swagger UI's own dist
files, tracked release by release) installed by the lock file."""

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
ASSETS_URL = "/docs/assets"
# The package's folder holding Swagger UI's files (and the package's own, not served).
ASSETS_PACKAGE = ("fastapi_swagger", "resources")
ASSET_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


class SwaggerAssets(StaticFiles):
    """Swagger UI's files from the package, with ETag and Last-Modified, and nothing else."""

    def __init__(self) -> None:
        super().__init__(packages=[ASSETS_PACKAGE])

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ASSET_FILES:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def install_docs(app: FastAPI) -> None:
    """Serve /docs, its OAuth2 redirect page and its assets. Create the app with
    `docs_url=None`, so that FastAPI does not add its own CDN-backed page."""
    app.mount(ASSETS_URL, SwaggerAssets(), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
