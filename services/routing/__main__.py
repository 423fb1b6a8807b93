"""``python -m services.routing``: run the routing service."""

from services.routing.app import build
from shared.service import serve
from shared.settings import load_settings

serve(build(load_settings()))
