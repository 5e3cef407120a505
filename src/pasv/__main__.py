"""Entry point for ``python -m pasv``."""

from pasv.cli.main import app

app()
