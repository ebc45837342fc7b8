"""moto's SQS, with the 12-hour visibility limit counted from the receive, as in AWS.

AWS: a message's visibility may be extended to at most 12 hours *from its receive*; a
ChangeMessageVisibility beyond what is left of those 12 hours is refused. moto 5 counts
the 12 hours from the message's *send* instead, so a message older than 12 hours can
never be hidden again - which no real queue does, and which would end a schedule of
several days in the local runtime. install() replaces that one check (the refusal text
stays moto's) and keeps everything else of moto's; the tests that drive days of
retries against moto with an injected clock use it too.
"""

from __future__ import annotations

from typing import Any

_LIMIT_MS = 43200 * 1000


def install() -> None:
    from moto.sqs import models
    from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid

    if getattr(models.SQSBackend, "_roomcast_receive_rule", False):
        return
    original_mark_received = models.Message.mark_received

    def mark_received(self: Any, visibility_timeout: int | None = None) -> None:
        self.roomcast_received_ms = models.unix_time_millis()
        original_mark_received(self, visibility_timeout)

    def change_message_visibility(self: Any, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None:
        queue = self.get_queue(queue_name)
        for message in queue._messages:
            if message.had_receipt_handle(receipt_handle):
                received = getattr(message, "roomcast_received_ms", message.sent_timestamp)
                if models.unix_time_millis() + int(visibility_timeout) * 1000 - received > _LIMIT_MS:
                    raise InvalidParameterValue(
                        f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                        "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
                    )
                message.change_visibility(visibility_timeout)
                if message.visible and message in queue.pending_messages:
                    queue.pending_messages.remove(message)
                return
        raise ReceiptHandleIsInvalid

    # Patching moto's classes is the point of this module.
    setattr(models.Message, "mark_received", mark_received)  # noqa: B010
    setattr(models.SQSBackend, "change_message_visibility", change_message_visibility)  # noqa: B010
    setattr(models.SQSBackend, "_roomcast_receive_rule", True)  # noqa: B010
