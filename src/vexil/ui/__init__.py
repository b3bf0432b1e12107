"""vexil.ui: arrives with its issue."""
