"""vexil.cli: arrives with its issue."""
