"""Planned maintenance: a link or a device taken out of service for a window.

Written by the platform team. Before the window opens the operator moves every service
using the target away, make-before-break; during the window alarms about the target are
marked expected (they raise no tickets); after it, drained services may return.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from intentloop_intents.resources.meta import (
    CamelModel,
    Conditions,
    K8sName,
    ObjectRef,
    ShortText,
    StatusModel,
    Text,
    cel,
    validations,
)


class MaintenanceTargetKind(StrEnum):
    LINK = "Link"
    DEVICE = "Device"


class MaintenanceTarget(CamelModel):
    kind: MaintenanceTargetKind
    name: K8sName


class MaintenanceSpec(CamelModel):
    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "timestamp(self.end) > timestamp(self.start)",
                "the window must end after it starts",
                field_path=".end",
            )
        )
    }

    target: MaintenanceTarget
    """The Link or Device taken out of service."""
    start: datetime
    """When the window opens (RFC 3339)."""
    end: datetime
    """When the window closes."""
    drain_before_s: int = Field(default=60, ge=0, le=86400)
    """How many seconds before `start` services are moved away."""
    return_after: bool = True
    """Whether drained services move back to their best path once the window has closed."""
    reason: Text = ""


class UnmovableService(CamelModel):
    service: ObjectRef
    reason: Text = ""


class MaintenanceStatus(StatusModel):
    phase: ShortText = ""
    """Scheduled, Draining (before the window), InProgress, Completed."""
    drained: list[ObjectRef] = Field(default_factory=list, max_length=1000)
    """Services moved away from the target for this window."""
    cannot_move: list[UnmovableService] = Field(default_factory=list, max_length=1000)
    """Services the window will hit, with why they cannot be moved (listed before it opens)."""
    message: Text = ""
    observed_generation: int | None = None
    conditions: Conditions
