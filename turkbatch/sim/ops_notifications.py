"""
HIT-event notification settings: UpdateNotificationSettings, SendTestEventNotification.

The simulator sends nothing; it checks the destination fits the transport (an e-mail
address for Email, an ``https://sqs.`` queue URL for SQS, an ``arn:aws:sns:`` topic ARN
for SNS) and the ``Version`` is ``2006-05-05``, and keeps each HIT type's specification
and Active flag.
"""

from __future__ import annotations

from collections.abc import Callable

from turkbatch.sim import world_errors as err
from turkbatch.sim.world_inputs import check_notification_version
from turkbatch.sim.world_records import Json
from turkbatch.sim.world_state import Operation, Params, State

_DESTINATION_CHECKS: dict[str, Callable[[str], bool]] = {
    "Email": lambda destination: "@" in destination,
    "SQS": lambda destination: destination.startswith("https://sqs."),
    "SNS": lambda destination: destination.startswith("arn:aws:sns:"),
}


def check_specification(spec: Json) -> None:
    """Refuse a notification specification whose destination does not fit its transport."""
    check_notification_version(spec)
    transport = spec["Transport"]
    destination = spec["Destination"]
    if not _DESTINATION_CHECKS[transport](destination):
        raise err.invalid_parameter(
            f"The destination {destination} is not valid for the transport {transport}."
        )


def send_test_event_notification(state: State, params: Params) -> Json:
    """Pretend to send a test event to a notification destination."""
    check_specification(params["Notification"])
    return {}


def update_notification_settings(state: State, params: Params) -> Json:
    """Set, replace, enable or disable a HIT type's notification specification."""
    hit_type = state.hit_type(params["HITTypeId"])
    spec = params.get("Notification")
    active = params.get("Active")
    if spec is None and active is None:
        raise err.invalid_parameter(
            "You must specify either the Notification parameter or the Active parameter."
        )
    if spec is not None:
        check_specification(spec)
        hit_type.notification = dict(spec)
    elif hit_type.notification is None:
        raise err.invalid_parameter(
            f"HITType {hit_type.hit_type_id} has no notification specification; "
            "provide one with the Notification parameter."
        )
    hit_type.notification_active = True if active is None else bool(active)
    return {}


OPERATIONS: dict[str, Operation] = {
    "SendTestEventNotification": send_test_event_notification,
    "UpdateNotificationSettings": update_notification_settings,
}
