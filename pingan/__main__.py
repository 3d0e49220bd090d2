"""`python -m pingan`: the same as the `pingan` command."""

from pingan.cli import app

app()
