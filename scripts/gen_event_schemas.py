"""Generate docs/events/<type>.schema.json (JSON Schema 2020-12) from the event models.

One file per event type of the catalogue (roomcast.models.events: EVENT_TYPES and the
test event), plus event.batch.schema.json for the body every event webhook carries.
The models are the ones the events function fills, so the catalogue cannot drift from
the code: tests/unit/test_event_schemas.py fails when the committed files are stale,
and validates real events against them.

    .venv/bin/python scripts/gen_event_schemas.py            # rewrite docs/events/
    .venv/bin/python scripts/gen_event_schemas.py --check    # exit 1 if stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "events"


def documents() -> dict[str, dict[str, Any]]:
    from roomcast.models.events import (
        BATCH_TYPE,
        EVENT_TYPES,
        TEST_EVENT,
        batch_schema,
        event_schema,
    )

    docs = {f"{t}.schema.json": event_schema(t) for t in (*EVENT_TYPES, TEST_EVENT)}
    docs[f"{BATCH_TYPE}.schema.json"] = batch_schema()
    return docs


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/events/ is stale")
    args = parser.parse_args(argv)
    wanted = {name: render(doc) for name, doc in documents().items()}
    present = {p.name for p in OUTPUT.glob("*.schema.json")} if OUTPUT.exists() else set()
    if args.check:
        stale = sorted(n for n, text in wanted.items() if not (OUTPUT / n).exists() or (OUTPUT / n).read_text() != text)
        extra = sorted(present - set(wanted))
        if stale or extra:
            print(f"docs/events/ is stale ({', '.join(stale + extra)}): run scripts/gen_event_schemas.py",
                  file=sys.stderr)
            return 1
        print(f"docs/events/ is current ({len(wanted)} schemas)")
        return 0
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name in present - set(wanted):
        (OUTPUT / name).unlink()
    for name, text in wanted.items():
        (OUTPUT / name).write_text(text)
    print(f"wrote {len(wanted)} schemas to docs/events/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
