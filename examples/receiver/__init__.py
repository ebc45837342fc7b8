"""roomcast's reference webhook receiver: verifies, dedupes on webhook-id, stores in SQLite."""

from examples.receiver.receiver import (
    Receiver,
    Store,
    Verifier,
    make_receiver,
    parse_secrets,
    start_receiver,
)

__all__ = ["Receiver", "Store", "Verifier", "make_receiver", "parse_secrets", "start_receiver"]
