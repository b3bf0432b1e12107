"""vexil.service: arrives with its issue."""
