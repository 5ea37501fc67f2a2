"""Hang media: the frame container, packaging encoded media into groups, and reading it back."""
