"""strikewire: a chat bot that carries a labour campaign's news to its supporters."""

__version__ = "0.1.0"
