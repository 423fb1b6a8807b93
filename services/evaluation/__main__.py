"""``python -m services.evaluation``: run the evaluation service."""

from services.evaluation.app import build
from shared.service import serve
from shared.settings import load_settings

serve(build(load_settings()))
