"""Publishing media as a Hang broadcast: sources, encoders, packagers, catalog, and the connection."""
