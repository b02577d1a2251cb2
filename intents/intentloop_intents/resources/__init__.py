"""The resource model (API group intentloop.io, v1alpha1): the source of truth for crds/."""

from intentloop_intents.resources.kinds import CATEGORY, KINDS, Column, Kind, by_kind
from intentloop_intents.resources.meta import API_VERSION, GROUP, VERSION

__all__ = ["API_VERSION", "CATEGORY", "GROUP", "KINDS", "VERSION", "Column", "Kind", "by_kind"]
