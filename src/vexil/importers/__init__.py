"""vexil.importers: arrives with its issue."""
