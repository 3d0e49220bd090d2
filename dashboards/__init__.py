"""Web UI and HTTP API: FastAPI app factory, routers, templates. Reaches the hub through service ports."""
