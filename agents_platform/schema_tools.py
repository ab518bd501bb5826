"""OpenAPI extras: the tools the agents may call, built-in and MCP (``AGENT_MCP_SERVERS``), as this process knows them.

A postprocessing hook named in ``SPECTACULAR_SETTINGS``: no endpoint lists
tools, so the schema carries them as the extension ``x-agent-tools`` (name,
kind, source, description, JSON schema of the parameters, described by the
``AgentTool`` component) and names them in the API description. MCP tools
are those their servers listed when this process last asked (a server that is
down lists none).
"""

from typing import Any

AGENT_TOOL = {
    "type": "object",
    "required": ["name", "kind", "source", "description", "parameters"],
    "properties": {
        "name": {"type": "string", "description": "The name the model calls; an MCP tool's is `<server>__<tool>`."},
        "kind": {
            "type": "string",
            "enum": ["read", "write"],
            "description": "`read`: offered to executors too. `write`: planner only, waits for approval with "
            "`AGENT_APPROVAL=write`. An MCP tool is `read` only when its server's `read_only` lists it.",
        },
        "source": {"type": "string", "description": "`builtin` (or a project's own), or `mcp:<server>`."},
        "description": {"type": "string"},
        "parameters": {"type": "object", "description": "JSON Schema of the arguments (an MCP tool: its server's)."},
    },
    "description": "A tool the agents may call (docs/architecture.md#tools; MCP tools from AGENT_MCP_SERVERS).",
}


def describe_tools() -> list[dict[str, Any]]:
    """Return every tool the planner could be offered now, as ``AgentTool`` objects."""
    from agents.tools import default_registry
    from agents.tools.mcp import McpTool

    tools = []
    for name in default_registry.names():
        spec = default_registry.get(name)
        if spec is None or spec.unavailable() is not None:
            continue
        function = spec.schema["function"]
        tools.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "source": f"mcp:{spec.server}" if isinstance(spec, McpTool) else "builtin",
                "description": function["description"],
                "parameters": function["parameters"],
            }
        )
    return tools


def add_tools(result: dict[str, Any], generator, request, public) -> dict[str, Any]:
    """Postprocessing hook: add ``x-agent-tools``, the ``AgentTool`` component, the tools' names in the description."""
    tools = describe_tools()
    result.setdefault("components", {}).setdefault("schemas", {})["AgentTool"] = AGENT_TOOL
    result["x-agent-tools"] = tools
    info = result.setdefault("info", {})
    listed = ", ".join(f"`{tool['name']}` ({tool['kind']}, {tool['source']})" for tool in tools)
    info["description"] = (
        f"{info.get('description', '')}\n\nTools the agents may call (`x-agent-tools` has their schemas): {listed}."
    ).strip()
    return result
