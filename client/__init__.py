"""The socklab client: connect, send one character, print the character the server answers."""

__version__ = "0.1.0"
