"""The MCP server at /mcp, built with the official SDK (`mcp` 2.x): stateless Streamable HTTP
with JSON responses, so any instance answers any request with no session to share."""

from dataclasses import dataclass

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.routing import Route

from app.accounts.better_auth import BetterAuthVerifier
from app.core.config import Settings
from app.core.database import Database
from app.mcp.auth import McpTokenVerifier, auth_settings
from app.mcp.http import MCP_PATH, McpEndpoint, transport_security
from app.mcp.list_tools import ListAndTaskTools

INSTRUCTIONS = """\
Manage the signed-in user's to-do list. A task has a title, an optional description, a priority
(High, Medium, Low), is open or completed, and may have a due date (and time, in a time zone),
a recurrence rule (RFC 5545 RRULE), a reminder and tags. Use list_tasks to find a task's id
before changing it; completing a recurring task moves it to its next occurrence. Every tool acts
on the caller's own tasks only."""


@dataclass(frozen=True)
class McpService:
    route: Route  # /mcp, for the application's router
    # Entered by the application's lifespan: the SDK app's own lifespan does not run when it
    # is routed to from ours, and without it every request fails.
    session_manager: StreamableHTTPSessionManager


def create_mcp(
    *, settings: Settings, database: Database, better_auth: BetterAuthVerifier | None
) -> McpService:
    verifier = McpTokenVerifier(
        database=database, better_auth=better_auth, resource=settings.mcp_resource
    )
    server: MCPServer = MCPServer(
        "todo",
        title="Todo",
        version="2.0.0",
        instructions=INSTRUCTIONS,
        token_verifier=verifier,
        auth=auth_settings(settings),
    )
    ListAndTaskTools(database).register(server)
    app = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(settings),
        max_request_body_size=settings.max_body_bytes,
    )
    # POST only. Stateless, the server never has anything to push on the optional GET stream
    # (which would stay open doing nothing) and no session to DELETE: both answer 405, as the
    # Streamable HTTP transport allows, and clients then carry on with POSTs.
    route = Route(MCP_PATH, McpEndpoint(app), methods=["POST"])
    return McpService(route=route, session_manager=server.session_manager)
