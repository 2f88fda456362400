"""``socklab trace``: the packets of one exchange, captured in the server's namespace and drawn."""
