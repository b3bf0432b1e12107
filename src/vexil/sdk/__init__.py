"""vexil.sdk: arrives with its issue."""
