"""RFC 9728 protected resource metadata of /mcp, where MCP clients discover how to get a token."""

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.core.config import Settings
from app.mcp.auth import protected_resource_metadata

METADATA_PATH = "/.well-known/oauth-protected-resource/mcp"


def metadata_paths(settings: Settings) -> list[str]:
    """Where the metadata is served: the contract's path, and the one RFC 9728 derives from
    MCP_RESOURCE_URL (the 401's `resource_metadata`) when a proxy gives /mcp another path."""
    derived = "/.well-known/oauth-protected-resource" + urlsplit(settings.mcp_resource).path
    return [METADATA_PATH] if derived in {METADATA_PATH, ""} else [METADATA_PATH, derived]


def create_router(settings: Settings) -> APIRouter:
    # A discovery document, not part of the API: left out of the OpenAPI schema.
    router = APIRouter(include_in_schema=False)

    async def resource_metadata(request: Request) -> JSONResponse:
        """How to get a token for `/mcp` (RFC 9728): the resource and its authorization server."""
        return JSONResponse(
            protected_resource_metadata(request.app.state.settings),
            headers={"Cache-Control": "public, max-age=3600"},
        )

    for path in metadata_paths(settings):
        router.add_api_route(path, resource_metadata, methods=["GET"], response_class=JSONResponse)
    return router
