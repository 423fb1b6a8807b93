"""``python -m services.gateway``: run the HTTP gateway."""

import uvicorn

from services.gateway.app import create_app
from shared.logs import configure_logging
from shared.service import EVENT_LOOP, freeze_startup_heap
from shared.settings import load_settings

settings = load_settings()
configure_logging()
app = create_app(settings, own_process=True)
freeze_startup_heap()
uvicorn.run(
    app,
    host=settings.http_host,
    port=settings.http_port,
    log_level="warning",
    log_config=None,  # uvicorn's records go to the root logger: JSON lines (shared/logs.py)
    loop=EVENT_LOOP,
)
