"""Operations, written by the operator and read by people: Transaction, DeviceConfig, Alarm."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from intentloop_intents.device import DeviceConfigTree
from intentloop_intents.resources.inventory import DriftPolicy
from intentloop_intents.resources.meta import (
    CamelModel,
    Conditions,
    K8sName,
    ObjectRef,
    ShortText,
    StatusModel,
    Text,
    cel,
    list_map,
    validations,
)
from intentloop_intents.resources.services import NetworkServiceSpec

NativeDiff = Annotated[str, Field(max_length=65536)]


class TransactionSpec(CamelModel):
    """Written by the operator as the record of a change, or by people to plan one:
    `dryRun: true` with `intentRef` (and optionally `plannedService`, the spec to try)."""

    model_config = CamelModel.model_config | {
        "json_schema_extra": validations(
            cel(
                "!has(self.plannedService) || self.dryRun",
                "plannedService is only allowed with dryRun: true",
                field_path=".plannedService",
            )
        )
    }

    intent_ref: ObjectRef | None = Field(
        default=None, description="The intent this transaction realises, if any"
    )
    dry_run: bool = Field(default=False, description="Only plan: show diffs, touch no device")
    devices: list[K8sName] = Field(
        default_factory=list, max_length=1024, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    planned_service: NetworkServiceSpec | None = None
    """For a dry run: plan this NetworkService spec instead of the stored one."""
    reason: Text = ""
    """Why the operator made this change when no intent asked for it, e.g. "drift repair
    of device r3" (with `intentRef` to that Device)."""


class TransactionPhase(StrEnum):
    PENDING = "Pending"
    PLANNED = "Planned"
    COMMITTED = "Committed"
    NO_CHANGE = "NoChange"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class DeviceTransactionResult(StatusModel):
    device: K8sName
    phase: ShortText = ""
    outcome: ShortText = ""
    diff: NativeDiff = ""
    error: Text = ""
    timings_ms: dict[str, float] = Field(default_factory=dict)


class TransactionStatus(StatusModel):
    phase: ShortText = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: float | None = None
    failed_device: ShortText = ""
    message: Text = ""
    devices: list[DeviceTransactionResult] = Field(
        default_factory=list, json_schema_extra=list_map("device")
    )
    observed_generation: int | None = None
    conditions: Conditions


class DeviceConfigSpec(CamelModel):
    device: K8sName
    """The Device this configuration is for."""
    config: DeviceConfigTree = Field(default_factory=DeviceConfigTree)
    """The desired configuration, each item tagged with its owners."""


class Deviation(StatusModel):
    path: Text
    intended: Text = ""
    actual: Text = ""


class DeviceConfigStatus(StatusModel):
    in_sync: bool | None = None
    drift_policy: DriftPolicy | None = None
    deviations: list[Deviation] = Field(default_factory=list, max_length=100)
    last_checked: datetime | None = None
    """When the drift check that last changed this status ran; checks that find the same
    result write nothing (see the metric `intentloop_device_check_oldest_timestamp_seconds`)."""
    last_applied_transaction: ShortText = ""
    repairs: int = 0
    observed_generation: int | None = None
    conditions: Conditions


class Severity(StrEnum):
    """X.733 perceived severity."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"
    INDETERMINATE = "indeterminate"
    CLEARED = "cleared"


class AlarmState(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"


class AlarmComment(CamelModel):
    comment: Text
    user_id: Text = ""
    """The authenticated user who wrote it (recorded by the northbound component)."""
    time: datetime | None = None


class AlarmSpec(CamelModel):
    """The only part people write: acknowledgement (TMF642 ackState)."""

    acknowledged: bool = False
    """Set to true to acknowledge the alarm."""
    acknowledged_by: Text = ""
    """Who acknowledged it: the authenticated user name, recorded by the API server
    (manifests/admission-policies.yaml); what a client writes here is replaced."""
    comments: list[AlarmComment] = Field(default_factory=list, max_length=100)
    """Comments by people (TMF642 commentAlarms), oldest first."""
    cleared_by: Text = ""
    """Who cleared the alarm by hand (TMF642 clearAlarms); empty if nobody did."""
    cleared_time: datetime | None = None
    """When it was cleared by hand: the alarm shows cleared until the loop changes it again."""


class AlarmStatus(StatusModel):
    alarm_type: ShortText = ""
    perceived_severity: Severity = Severity.INDETERMINATE
    """X.733 severity."""
    probable_cause: ShortText = ""
    """X.733 probable cause, e.g. linkDown, slaViolation, configurationDrift."""
    specific_problem: Text = ""
    source: ObjectRef | None = None
    state: AlarmState = AlarmState.ACTIVE
    ack_state: ShortText = "unacknowledged"
    raised_time: datetime | None = None
    changed_time: datetime | None = None
    cleared_time: datetime | None = None
    is_root_cause: bool = False
    """Whether this alarm is the root cause of others."""
    root_cause_ref: ObjectRef | None = None
    correlated_alarms: list[ObjectRef] = Field(default_factory=list, max_length=1000)
    affected_services: list[ObjectRef] = Field(default_factory=list, max_length=1000)
    count: int = 1
    observed_generation: int | None = None
    conditions: Conditions
