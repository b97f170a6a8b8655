"""Wiring: the FastAPI service, map pages and the command line."""
