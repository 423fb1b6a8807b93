"""``python -m services.intake``: run the intake service."""

from services.intake.app import build
from shared.service import serve
from shared.settings import load_settings

serve(build(load_settings()))
