"""The ``hang`` command line."""
