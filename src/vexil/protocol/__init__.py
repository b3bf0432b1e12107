"""vexil.protocol: arrives with its issue."""
