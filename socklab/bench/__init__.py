"""`socklab bench`: every server version against the C references, in one run, as tables and plots."""
