"""One event log for every run: what the report and the live view read (see ``schema``)."""

from .schema import FIELDS, Event, Kind, MalformedEvent, parse_log

__all__ = ["FIELDS", "Event", "Kind", "MalformedEvent", "parse_log"]
