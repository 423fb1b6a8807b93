"""``python -m services.counterpart``: run the demo counterpart (``./hall up`` starts it unless switched off)."""

from services.counterpart.app import build
from shared.service import serve
from shared.settings import load_settings

serve(build(load_settings()))
