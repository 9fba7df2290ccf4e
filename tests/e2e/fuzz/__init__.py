"""Property-based tests of the WebSocket adapter: hostile frames against a live server."""
