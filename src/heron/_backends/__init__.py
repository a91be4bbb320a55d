"""Network backends: blocking sockets, native asyncio, and anyio (trio and others)."""
