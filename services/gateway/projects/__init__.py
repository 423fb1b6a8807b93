"""工程建设项目: a project registered once and its stages applied for one by one (services/intake/projects.py
decides); the gateway's list and view of each project with its stages, their clocks and results, and the budget."""

from __future__ import annotations

from services.gateway.feature import Feature, provide
from services.gateway.projects.api import ProjectPages, ProjectsController
from services.gateway.projects.model import Projects
from services.gateway.projects.schemas import RegisterProject
from shared import topics
from shared.settings import HallSettings


def feature(settings: HallSettings) -> Feature:
    projects = Projects(settings)
    return Feature(
        routes=[ProjectsController, ProjectPages],
        tables=[projects.table()],
        publishes={topics.INTAKE_COMMANDS: [RegisterProject]},
        dependencies={"projects": provide(projects)},
    )
