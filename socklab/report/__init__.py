"""The run's report: one self-contained HTML file, made from the event log alone (``socklab report``)."""
