"""The production entry point: ``gunicorn wsgi:app``. The only module-level application."""

from retribusi import create_app

app = create_app()
