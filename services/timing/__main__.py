"""``python -m services.timing``: run the timing service."""

from services.timing.app import build
from shared.service import serve
from shared.settings import load_settings

serve(build(load_settings()))
