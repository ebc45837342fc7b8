"""Pydantic models: frames (both directions), records, admin payloads, settings."""
