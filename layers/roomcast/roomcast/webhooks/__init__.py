"""Outbound webhooks: signing, retry schedule, SSRF guard, payload parts, sender."""
