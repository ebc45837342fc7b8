"""roomcast's local runtime: the SAM template on one machine (never imported by deployed code)."""
