"""Watching a room: discover participants, follow their catalogs, decode, present or record."""
