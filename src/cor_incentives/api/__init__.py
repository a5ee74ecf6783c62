"""The REST API (FastAPI): ``app.create_app`` builds it; ``cli/serve.py`` runs it under uvicorn."""
