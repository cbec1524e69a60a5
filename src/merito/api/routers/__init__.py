"""The API's routers, one module per area (mounted under /api/v1 by ``merito.api.app``)."""
