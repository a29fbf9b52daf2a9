"""The RADIUS front door: translates packets into the engine's AuthRequest and its Decision back.

Layers, from the wire inwards: `codec` (bytes ↔ pyrad packets, no sockets), `checks` (which packets
may be answered: client, authenticators, BlastRADIUS rules), `duplicates` (RFC 5080 cache),
`translate` (packet ↔ AuthRequest / Decision), `server` (asyncio sockets), `workers` (processes).
"""
