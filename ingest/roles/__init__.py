"""The roles: the same chain of stages with another head or tail. A role builds only what it uses.

    all      scheduler ─► feed cycle ─► article chain (tail: publish)
    poller   scheduler (its share) ─► feed cycle ─► link chain (tail: link, to the links topic)
    worker   links consumer ─► article chain (tail: publish)

The role is decided once, here, from ``role`` in the settings.
"""

from __future__ import annotations

from ingest.config import Settings
from ingest.roles.base import Resources, Role, RunSummary
from ingest.roles.poller import Poller
from ingest.roles.single import SingleProcess
from ingest.roles.worker import Worker

__all__ = ["Resources", "Role", "RunSummary", "role_for"]


def role_for(settings: Settings) -> Role:
    """The role ``settings.role`` names, built from the settings (its feed list read)."""
    roles: dict[str, type[SingleProcess] | type[Poller] | type[Worker]] = {
        "all": SingleProcess,
        "poller": Poller,
        "worker": Worker,
    }
    return roles[settings.role](settings)
