"""The live view of a run: one local web page that follows the run's event log as it is written.

``socklab view EVENTS.jsonl`` and ``--view`` on a recorded command serve it (``server``); the page
(``static/``) receives the log's events as server-sent events (``app``), read from the file (``tail``).
The view reads nothing but the file: a saved log replays, a log being written is followed live.
"""
