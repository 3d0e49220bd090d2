"""Fixtures of the security tests: the whole hub with its web app, as tests/web builds it."""

from web.conftest import web  # noqa: F401  (the `web` fixture: build_web over db_url)
