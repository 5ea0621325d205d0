"""`greenroom serve`: the browser front end.

A small aiohttp server hands out one page (plain HTML/JS, package data, works offline) and does
WebRTC signalling; aiortc receives each browser's camera, greenroom processes it frame by frame
(newest frame wins, in a worker thread) and sends the processed video back, and in a room
(`/room/NAME`) on to the other participants through one `MediaRelay` per room.

Modules: `server` (the aiohttp app and routes), `tracks` (the processing and slot tracks),
`rooms` (participants, rooms and their relays), `signalling` (validation of everything a client
sends), `uploads` (checked decoding of uploaded backgrounds), `guard` (Host, Origin and content
type checks, security headers), `limits` (places, lifetimes and sizes), `ice` (media on
loopback for a loopback server).
"""

from greenroom.web.server import DEFAULT_HOST, DEFAULT_PORT, create_app, run

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "run"]
