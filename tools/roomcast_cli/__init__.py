"""roomcast's operator command line: `python -m roomcast_cli <command>`.

Commands: redrive (DLQ -> source queue), replay (re-send a room's webhook), token
(mint a connect token through the admin API or offline), verify (check a signature).
"""

__all__: list[str] = []
