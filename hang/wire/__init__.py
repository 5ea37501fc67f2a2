"""Sans-I/O moq-lite codecs: bytes in, dataclasses out, and back. No asyncio, no sockets."""
