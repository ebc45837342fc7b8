"""Reading AWS errors: the one place that knows where a ClientError keeps its code."""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(error: ClientError) -> str | None:
    """The AWS error code of a failed call ("ConditionalCheckFailedException", ...)."""
    code = error.response.get("Error", {}).get("Code")
    return str(code) if code is not None else None


def is_conditional_failure(error: ClientError) -> bool:
    """A condition expression did not hold: nothing was written."""
    return error_code(error) == "ConditionalCheckFailedException"


def cancellation_codes(error: ClientError) -> list[str]:
    """Per-item reasons of a cancelled transaction ("None" for items that were fine)."""
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def cancellation_item(error: ClientError, index: int) -> dict | None:
    """The item as it was at `index` of a cancelled transaction, when that item asked for
    ReturnValuesOnConditionCheckFailure=ALL_OLD (None otherwise)."""
    reasons = error.response.get("CancellationReasons") or []
    return reasons[index].get("Item") if index < len(reasons) else None
