"""A real-time seat reservation server.

The layout follows the split between a pure core and its I/O shell:

- ``server.core``: seat rules, errors and session tokens; synchronous, no I/O, tested directly.
- ``server.messages``: the wire schema (pydantic), shared by the socket, REST, docs and tests.
- ``server.storage``: the database adapter (SQLAlchemy Core on the tables Prisma's migrations create).
- ``server.service``: runs a request through the rules inside one database transaction and publishes the changes.
- ``server.fanout``: per-showtime subscriber sets and the broadcast that never awaits a client.
- ``server.websocket`` and ``server.http``: the two network adapters; ``server.app`` assembles them.
"""
