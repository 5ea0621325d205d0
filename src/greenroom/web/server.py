"""The aiohttp application: the page, WebRTC signalling over HTTP, uploads.

Routes (every request must name a host this server serves, and a browser request must come from
this server's own page: see `guard`):
    GET  /                        the page (a private session)
    GET  /room/NAME               the page, joining room NAME
    GET  /static/FILE             the page's script and style
    GET  /gallery/ID.jpg          a built-in background picture
    GET  /api/config              models, effects, gallery, limits, ICE servers
    GET  /api/health              counts of sessions, rooms and negotiations (no names)
    POST /api/offer               {"sdp", "type": "offer", "room"?, "name"?, "model"?, "effect"?}
                                  (application/json)
                                  -> {"sdp", "type": "answer", "session", "token", "slots"}
    POST /api/session/ID/background   image bytes (image/* or application/octet-stream; <= 10 MB,
                                      8000 a side, 40 megapixels) -> applied
    POST /api/session/ID/close        {} (application/json): leave now (sent when the page unloads)

ID is the session's public id (room members see each other's); the two session routes also need
`Authorization: Bearer TOKEN`, the secret that only the offer's answer carries. Places are taken
before negotiation and limited globally and per client address (`limits`); an answered offer that
does not connect within `Limits.connect_timeout`, or a session that stops sending video for
`Limits.idle_timeout`, is dropped. Uploads are decoded in their own low-priority thread, never in
the media workers.

Every error is a JSON object `{"error": "..."}` with a 4xx/5xx status. Effect and model changes
travel on the WebRTC data channel as JSON (see `signalling.parse_control`), and the server
answers there with statistics every half second.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import os
import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files
from typing import Any

import numpy as np
from aiohttp import web
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from PIL import Image

from greenroom.compositing import Effect, EffectSpec
from greenroom.errors import InputError, TooLarge
from greenroom.pipeline.allocator import release_memory
from greenroom.pipeline.processor import Processor
from greenroom.samples import rocket
from greenroom.segmentation import load_segmenter, registry
from greenroom.web import ice
from greenroom.web.guard import (
    LOOPBACK_NAMES,
    add_security_headers,
    guard,
    is_loopback,
    require_type,
    served_hosts,
)
from greenroom.web.limits import Admission, Limits
from greenroom.web.rooms import Room, RoomFull, Session
from greenroom.web.signalling import (
    EFFECTS,
    MAX_BODY,
    MAX_SLOTS,
    BadRequest,
    check_room,
    effect_message,
    parse_control,
    parse_offer,
)
from greenroom.web.tracks import ProcessedTrack, SlotTrack
from greenroom.web.uploads import (
    MAX_PIXELS,
    MAX_SIDE,
    MAX_UPLOAD_BYTES,
    Decoder,
    decode_upload,
)

log = logging.getLogger(__name__)


def available_models(models_dir: str | os.PathLike[str] | None = None) -> tuple[str, ...]:
    """`auto` and the registry models that load without a download (the server fetches nothing)."""
    names = [
        name for name, info in registry.MODELS.items() if registry.is_available(info, models_dir)
    ]
    return ("auto", *names)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: Seconds between a session closing and its memory being handed back.
RELEASE_DELAY = 1.0
#: Seconds allowed for applying an offer and gathering candidates.
NEGOTIATION_TIMEOUT = 15.0

STATIC_TYPES = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "style.css": "text/css",
}


def gradient(width: int = 1280, height: int = 720) -> np.ndarray:
    """A calm diagonal gradient (deep blue to teal), generated so it needs no file."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    t = (xs / width * 0.6 + ys / height * 0.4)[:, :, None]
    top = np.array([24, 32, 96], np.float32)
    bottom = np.array([32, 160, 150], np.float32)
    return (top * (1 - t) + bottom * t).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def parse_ice_server(url: str) -> RTCIceServer:
    """'stun:host:port' or 'turn:USER:PASS@host:port' -> RTCIceServer."""
    scheme, sep, rest = url.partition(":")
    if not sep or scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise InputError(f"ICE server {url!r}", "must look like stun:HOST:PORT or turn:HOST:PORT")
    if "@" in rest:
        credentials, host = rest.rsplit("@", 1)
        username, _, password = credentials.partition(":")
        return RTCIceServer(urls=f"{scheme}:{host}", username=username, credential=password)
    return RTCIceServer(urls=url)


class WebServer:
    """State of one running server: sessions, rooms, gallery, the worker threads."""

    def __init__(
        self,
        ice_servers: Iterable[str] = (),
        workers: int | None = None,
        processor_factory: Callable[[Effect, str], Processor] | None = None,
        models: Sequence[str] | None = None,
        models_dir: str | os.PathLike[str] | None = None,
        limits: Limits | None = None,
        loopback_media: bool = True,
    ) -> None:
        self.limits = limits or Limits()
        self.admission = Admission(self.limits)
        #: Gather media (ICE) candidates on loopback only: the server listens on loopback.
        self.loopback_media = loopback_media
        self.ice_servers = [parse_ice_server(url) for url in ice_servers]
        self.ice_urls = list(ice_servers)
        self.workers = workers or max(2, min(4, os.cpu_count() or 2))
        self.executor: ThreadPoolExecutor | None = None
        self.decoder: Decoder | None = None
        self.uploads_queued = 0
        self.releasing = False
        self.processor_factory = processor_factory or (
            lambda effect, model: Processor(
                effect, model=load_segmenter(model, models_dir=models_dir), temporal=True
            )
        )
        #: What the page may choose: never a model that would have to be downloaded first.
        self.models = tuple(models) if models is not None else available_models(models_dir)
        self.sessions: dict[str, Session] = {}
        self.rooms: dict[str, Room] = {}
        self.pending = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        rocket_image = rocket()
        gradient_image = gradient()
        self.gallery: dict[str, tuple[str, np.ndarray, bytes]] = {
            "rocket": ("Rocket launch", rocket_image, jpeg(rocket_image)),
            "gradient": ("Blue gradient", gradient_image, jpeg(gradient_image)),
        }
        package = files("greenroom.web") / "static"
        self.static = {name: (package / name).read_bytes() for name in STATIC_TYPES}

    # -- helpers --------------------------------------------------------------------------------

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def authorised(self, request: web.Request) -> Session:
        """The session named in the path, if the request carries its secret token."""
        session = self.sessions.get(request.match_info["id"])
        if session is None or session.closed:
            raise BadRequest("no such session", status=404)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not session.authorises(token.strip()):
            raise BadRequest(
                "this needs the session's own token (Authorization: Bearer TOKEN)", status=403
            )
        return session

    def room(self, name: str | None) -> Room:
        """The room called `name`, registered at once so simultaneous offers share it."""
        if name is None:
            return Room(None)
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
        return room

    def drop_if_empty(self, room: Room) -> None:
        if room.name is not None and room.empty and self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def build_effect(self, spec: EffectSpec, session: Session | None) -> Effect:
        """The spec's effect; its picture is a gallery name or "upload" (this session's)."""

        def picture(name: str) -> np.ndarray:
            if name == "upload":
                if session is None or session.upload is None:
                    raise BadRequest("no background uploaded in this session yet")
                return session.upload
            if name not in self.gallery:
                raise BadRequest(f"no gallery picture {name!r}")
            return self.gallery[name][1]

        return spec.build(picture)

    def _forget(self, session: Session) -> None:
        """A session closed: give back its place, its room if empty, and its memory."""
        self.sessions.pop(session.id, None)
        self.admission.give_back(session.address)
        self.drop_if_empty(session.room)
        self.spawn(self.release_memory())

    async def release_memory(self) -> None:
        """Hand closed sessions' frame buffers back to the system (glibc would keep them).

        After a moment, since a closed session's codecs and relay tasks finish after it; one
        release at a time covers every session closed meanwhile.
        """
        if self.releasing:
            return
        self.releasing = True
        try:
            await asyncio.sleep(RELEASE_DELAY)
            if not self.sessions and not self.pending:
                gc.collect()  # aiortc's objects hold reference cycles
            await asyncio.get_running_loop().run_in_executor(None, release_memory)
        finally:
            self.releasing = False

    # -- lifetimes ------------------------------------------------------------------------------

    def expired(self, session: Session, now: float) -> str | None:
        """Why `session` should be dropped now, if it should."""
        if not session.connected:
            if now - session.created > self.limits.connect_timeout:
                return f"did not connect within {self.limits.connect_timeout:g} s"
            return None
        last = session.processed.last_arrival if session.processed else session.connected_at
        if now - max(last, session.connected_at) > self.limits.idle_timeout:
            return f"no video for {self.limits.idle_timeout:g} s"
        return None

    async def expire(self) -> None:
        """Drop offers that never connect and sessions that stopped sending video."""
        step = max(0.05, min(1.0, self.limits.connect_timeout / 4, self.limits.idle_timeout / 4))
        while True:
            await asyncio.sleep(step)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        """One round of `expire` (its own frame, so no session outlives it in a local)."""
        for session in list(self.sessions.values()):
            reason = self.expired(session, now)
            if reason is not None and not session.closed:
                log.info("dropping session %s: %s", session.id, reason)
                self.spawn(session.close())

    async def startup(self, app: web.Application) -> None:
        self.spawn(self.expire())

    # -- control channel ------------------------------------------------------------------------

    def on_control(self, session: Session, message: object) -> None:
        try:
            kind, value = parse_control(message, self.models)
            if kind == "ping":
                session.send({"type": "pong", "t": value})
                return
            if session.processed is None:
                raise BadRequest("no video yet")
            if kind == "effect":
                assert isinstance(value, EffectSpec)
                session.processed.effect = self.build_effect(value, session)
                session.effect_spec = value
                session.send({"type": "effect", **effect_message(value)})
            elif kind == "model":
                session.processed.model = str(value)
                session.send({"type": "model", "model": value})
        except BadRequest as exc:
            session.send({"type": "error", "error": exc.message})
        except Exception as exc:  # noqa: BLE001 - a message must never take the server down
            log.exception("control message failed")
            session.send({"type": "error", "error": f"internal error: {exc}"})

    # -- handlers -------------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        if "name" in request.match_info:
            check_room(request.match_info["name"])
        return web.Response(body=self.static["index.html"], content_type="text/html")

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["file"]
        if name not in self.static or name == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=self.static[name], content_type=STATIC_TYPES[name])

    async def gallery_file(self, request: web.Request) -> web.Response:
        entry = self.gallery.get(request.match_info["id"])
        if entry is None:
            raise web.HTTPNotFound()
        return web.Response(body=entry[2], content_type="image/jpeg")

    async def config(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "models": list(self.models),
                "effects": list(EFFECTS),
                "gallery": [
                    {"id": key, "name": name, "url": f"/gallery/{key}.jpg"}
                    for key, (name, _, _) in self.gallery.items()
                ],
                "iceServers": [{"urls": url} for url in self.ice_urls],
                "maxSlots": MAX_SLOTS,
                "limits": {
                    "uploadBytes": MAX_UPLOAD_BYTES,
                    "uploadSide": MAX_SIDE,
                    "uploadPixels": MAX_PIXELS,
                },
            }
        )

    async def health(self, request: web.Request) -> web.Response:
        """Counts only: a room's name is what keeps it private, so names are never listed."""
        return web.json_response(
            {"sessions": len(self.sessions), "rooms": len(self.rooms), "negotiating": self.pending}
        )

    async def offer(self, request: web.Request) -> web.Response:
        require_type(request, "application/json")
        offer = parse_offer(await read_body(request, MAX_BODY), self.models)
        effect = self.build_effect(offer.effect, None)
        address = request.remote or ""
        self.admission.take(address)
        room = self.room(offer.room)
        try:
            room.reserve()
        except RoomFull as exc:
            self.admission.give_back(address)
            self.drop_if_empty(room)
            raise BadRequest(str(exc), status=409) from None

        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(self.ice_servers)))
        session = Session(pc, room, offer.name, address)
        session.on_closed = self._forget  # gives back the place, whatever happens next
        self.pending += 1
        try:
            with ice.loopback_media(self.loopback_media):
                answer = await asyncio.wait_for(
                    self._negotiate(session, offer.sdp, effect, offer.model), NEGOTIATION_TIMEOUT
                )
            if session.closed:
                raise BadRequest("the connection closed during negotiation")
        except BaseException as exc:
            room.release()
            await session.close()
            if isinstance(exc, BadRequest):
                raise
            if isinstance(exc, asyncio.TimeoutError):
                raise BadRequest("negotiation timed out", status=504) from None
            if isinstance(exc, Exception):
                raise BadRequest(f"unusable offer: {exc}") from None
            raise
        finally:
            self.pending -= 1
        session.effect_spec = offer.effect
        self.sessions[session.id] = session
        room.join(session)
        if pc.connectionState in ("failed", "closed"):
            self.spawn(session.close())
        return web.json_response(
            {
                "sdp": answer.sdp,
                "type": answer.type,
                "session": session.id,
                "token": session.token,
                "name": session.name,
                "room": room.name,
                "slots": [slot.mid for slot in session.slots],
            }
        )

    async def _negotiate(
        self, session: Session, sdp: str, effect: Effect, model: str
    ) -> RTCSessionDescription:
        pc = session.pc

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected" and not session.connected:
                session.connected = True
                session.connected_at = time.monotonic()
            if pc.connectionState in ("failed", "closed"):
                self.spawn(session.close())

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if session.channel is not None:  # one control channel per session
                return
            session.channel = channel
            channel.on("message", lambda message: self.on_control(session, message))
            channel.on("close", lambda: self.spawn(session.close()))
            session.send_peers()
            session.start_stats()

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        video = [t for t in pc.getTransceivers() if t.kind == "video"]
        if not video or getattr(video[0], "_offerDirection", "sendrecv") not in (
            "sendrecv",
            "sendonly",
        ):
            raise BadRequest("the offer must send a camera video track first")
        processed = ProcessedTrack(
            video[0].receiver.track,
            self.executor or self._start_executor(),
            effect,
            model,
            processor_factory=self.processor_factory,
            max_size=self.limits.video,
        )
        session.publish(processed)
        pc.addTrack(session.self_view)
        for transceiver in video[1 : 1 + MAX_SLOTS]:
            slot = SlotTrack(transceiver.mid)
            sender = pc.addTrack(slot)
            slot.on_switch = key_frame_request(sender)
            session.slots.append(slot)
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        return pc.localDescription

    def _start_executor(self) -> ThreadPoolExecutor:
        self.executor = ThreadPoolExecutor(self.workers, thread_name_prefix="greenroom-web")
        return self.executor

    async def upload(self, request: web.Request) -> web.Response:
        session = self.authorised(request)
        require_type(request, "image/*", "application/octet-stream")
        since = time.monotonic() - session.last_upload
        refusal = None
        if session.uploading or since < self.limits.upload_interval:
            refusal = BadRequest(
                f"one background per {self.limits.upload_interval:g} s, please", status=429
            )
        elif self.uploads_queued >= self.limits.uploads_queued:
            refusal = BadRequest("busy decoding other backgrounds: try again later", status=503)
        if refusal is not None:
            # Answered only after the interval: a client uploading in a loop gets one refusal
            # per interval, not hundreds a second, and waiting costs the server nothing.
            await asyncio.sleep(self.limits.upload_interval)
            raise refusal
        if self.decoder is None:
            self.decoder = Decoder()
        session.uploading = True
        self.uploads_queued += 1
        try:
            data = await read_body(request, MAX_UPLOAD_BYTES)
            image = await self.decoder.run(decode_upload, data)
        except InputError as exc:
            status = 413 if isinstance(exc, TooLarge) else 415
            raise BadRequest(exc.problem, status=status) from None
        finally:
            session.uploading = False
            session.last_upload = time.monotonic()
            self.uploads_queued -= 1
        if session.closed:
            raise BadRequest("no such session", status=404)
        session.upload = image
        spec = EffectSpec(background="upload")
        if session.processed is not None:
            session.processed.effect = self.build_effect(spec, session)
            session.effect_spec = spec
        return web.json_response({"ok": True, "width": image.shape[1], "height": image.shape[0]})

    async def leave(self, request: web.Request) -> web.Response:
        require_type(request, "application/json")
        if request.match_info["id"] in self.sessions:  # gone already: nothing to do
            await self.authorised(request).close()
        return web.json_response({"ok": True})

    async def shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(s.close() for s in list(self.sessions.values())))
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def cleanup(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        if self.decoder is not None:
            decoder, self.decoder = self.decoder, None
            await loop.run_in_executor(None, decoder.shutdown)
        if self.executor is not None:
            executor, self.executor = self.executor, None
            await loop.run_in_executor(None, executor.shutdown)


def key_frame_request(sender: Any) -> Callable[[], None]:
    """Ask `sender`'s encoder for a key frame: a slot's new source must not be decoded against
    the previous participant's frames. aiortc does this itself on a PLI; there is no public API.
    """

    def request() -> None:
        if hasattr(sender, "_RTCRtpSender__force_keyframe"):
            sender._RTCRtpSender__force_keyframe = True

    return request


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise BadRequest(f"request too large (limit {limit:,} bytes)", status=413)
    chunks, total = [], 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
        if total > limit:
            raise BadRequest(f"request too large (limit {limit:,} bytes)", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        response = json_error(exc.status, exc.message)
        if not request.content.is_eof():
            # Refused before its body was read (a rate limit, a bad token): close rather than
            # read and discard up to 10 MB, so hammering with refused uploads costs next to nothing.
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return json_error(exc.status, exc.reason)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception:  # noqa: BLE001 - one bad request must not take the server down
        log.exception("request %s %s failed", request.method, request.path)
        return json_error(500, "internal server error")


SERVER_KEY = web.AppKey("greenroom", WebServer)


def create_app(
    ice_servers: Iterable[str] = (),
    workers: int | None = None,
    processor_factory: Callable[[Effect, str], Processor] | None = None,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    limits: Limits | None = None,
    hosts: Iterable[str] = LOOPBACK_NAMES,
    loopback_media: bool = True,
) -> web.Application:
    """The aiohttp application; `app[SERVER_KEY]` is its `WebServer`.

    `hosts`: the host names the server answers to (see `guard.served_hosts`); `loopback_media`:
    media on loopback addresses only, for a server that listens on loopback.
    """
    server = WebServer(
        ice_servers,
        workers,
        processor_factory,
        models_dir=models_dir,
        limits=limits,
        loopback_media=loopback_media,
    )
    app = web.Application(
        middlewares=[errors_as_json, guard(hosts)], client_max_size=MAX_UPLOAD_BYTES + 1
    )
    app[SERVER_KEY] = server
    app.on_response_prepare.append(add_security_headers)
    app.on_startup.append(server.startup)
    app.router.add_get("/", server.page)
    app.router.add_get("/room/{name}", server.page)
    app.router.add_get("/static/{file}", server.static_file)
    app.router.add_get("/gallery/{id}.jpg", server.gallery_file)
    app.router.add_get("/api/config", server.config)
    app.router.add_get("/api/health", server.health)
    app.router.add_post("/api/offer", server.offer)
    app.router.add_post("/api/session/{id}/background", server.upload)
    app.router.add_post("/api/session/{id}/close", server.leave)
    app.on_shutdown.append(server.shutdown)
    app.on_cleanup.append(server.cleanup)
    return app


def ssl_context(certfile: str | None, keyfile: str | None) -> ssl.SSLContext | None:
    if certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


def run(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    ice_servers: Iterable[str] = (),
    ssl_context: ssl.SSLContext | None = None,
    print_: Callable[[str], None] = print,
    models_dir: str | os.PathLike[str] | None = None,
    allowed_hosts: Iterable[str] = (),
    limits: Limits | None = None,
) -> None:
    """Serve until Ctrl-C; `print_` is called once listening (a busy port raises OSError)."""
    app = create_app(
        ice_servers,
        models_dir=models_dir,
        limits=limits,
        hosts=served_hosts(host, allowed_hosts),
        loopback_media=is_loopback(host),
    )
    with contextlib.suppress(KeyboardInterrupt):
        web.run_app(app, host=host, port=port, ssl_context=ssl_context, print=print_)
