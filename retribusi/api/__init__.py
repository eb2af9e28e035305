"""The JSON API under /api/v1 (flask-smorest; OpenAPI at /api/v1/openapi.json)."""
