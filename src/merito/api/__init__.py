"""Merito's HTTP API (FastAPI): an adapter over the services; ``create_app`` builds it."""
