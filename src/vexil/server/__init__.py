"""vexil.server: arrives with its issue."""
