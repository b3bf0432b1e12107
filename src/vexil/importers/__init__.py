"""Importers: convert other feature-flag products' data into vexil flag documents.

Pure data conversion; importers may depend on vexil.engine only and never perform I/O themselves.
"""
