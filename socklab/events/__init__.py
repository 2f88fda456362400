"""One event log for every run: what the report and the live view read (see ``schema`` and ``kinds``)."""

from .schema import SPECS, Event, InvalidEvent, Kind, MalformedEvent, parse_log

__all__ = ["SPECS", "Event", "InvalidEvent", "Kind", "MalformedEvent", "parse_log"]
