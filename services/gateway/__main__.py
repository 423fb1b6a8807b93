"""``python -m services.gateway``: run the HTTP gateway."""

import logging

import uvicorn

from services.gateway.app import create_app
from shared.settings import load_settings

settings = load_settings()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_level="warning")
