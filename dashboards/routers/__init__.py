"""Routers of the web app, each built by a function from the services it needs."""
