"""vexil.store: arrives with its issue."""
