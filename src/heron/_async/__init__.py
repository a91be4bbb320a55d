"""Clients and the network transport: the code that does I/O."""
