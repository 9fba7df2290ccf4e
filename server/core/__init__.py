"""The functional core: seat rules and session tokens, with no I/O and no asyncio."""
