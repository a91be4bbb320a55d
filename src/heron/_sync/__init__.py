# Generated from src/heron/_async/__init__.py by scripts/unasync.py: do not edit by hand.
"""Clients and the network transport: the code that does I/O."""
