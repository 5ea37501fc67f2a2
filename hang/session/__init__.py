"""moq-lite sessions over a :mod:`hang.transport` session: handshake, publishing and subscribing."""
