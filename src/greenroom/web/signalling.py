"""Validation of everything a client sends: offers, room names and control messages.

Every check raises `BadRequest` with a one-line reason, which the server turns into a 4xx JSON
answer (HTTP) or an `{"type": "error"}` message (data channel); nothing a client sends can raise
anything else out of here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenroom.compositing import DEFAULT_BLUR, EffectSpec, parse_color
from greenroom.errors import InputError
from greenroom.segmentation import MODEL_NAMES

#: Room names: letters, digits, '-' and '_', 1 to 64 of them.
ROOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: Largest SDP accepted (a browser's offer with a few transceivers is 5-15 KB).
MAX_SDP = 64 * 1024
#: Largest signalling request body.
MAX_BODY = 128 * 1024
#: Largest control message on the data channel.
MAX_MESSAGE = 4096
#: Most receive-only slots (other participants' videos) one client may ask for.
MAX_SLOTS = 8
#: Effects the page can choose.
EFFECTS = ("blur", "color", "image", "transparent", "mask", "off")
#: Largest blur strength accepted (the CLI's hotkeys stop at 100 too).
MAX_BLUR = 100.0
#: Display names: printable, short.
MAX_NAME = 40


class BadRequest(Exception):
    """A client sent something unusable; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def effect_message(spec: EffectSpec) -> dict[str, Any]:
    """The page's words for an effect (`parse_effect` read back): what the server confirms."""
    kind = "image" if spec.kind == "background" else spec.kind
    out: dict[str, Any] = {"effect": kind}
    if kind == "blur":
        out["strength"] = spec.strength
    elif kind == "color" and spec.color is not None:
        out["color"] = "#{:02x}{:02x}{:02x}".format(*spec.color)
    elif kind == "image":
        out["image"] = spec.background
    return out


@dataclass(frozen=True)
class Offer:
    """A validated signalling offer."""

    sdp: str
    room: str | None = None
    name: str = ""
    model: str = "auto"
    effect: EffectSpec = field(default_factory=EffectSpec)


def check_room(name: object) -> str:
    if not isinstance(name, str) or not ROOM_NAME.fullmatch(name):
        raise BadRequest("room name must be 1-64 letters, digits, '-' or '_'")
    return name


def parse_json(body: bytes | str) -> dict[str, Any]:
    """Decode a JSON object, or raise BadRequest."""
    if len(body) > MAX_BODY:
        raise BadRequest(f"request too large (limit {MAX_BODY:,} bytes)", status=413)
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadRequest("body must be a JSON object")
    return value


def parse_model(value: object, models: Sequence[str] = MODEL_NAMES) -> str:
    """A model name among `models` (the server offers only those it can load without a download)."""
    if not isinstance(value, str) or value not in models:
        raise BadRequest(f"model must be one of {', '.join(models)}")
    return value


def parse_effect(value: object) -> EffectSpec:
    """`{"effect": "blur", "strength": 20}` and the like -> `EffectSpec` (web limits checked here:
    a blur of at most `MAX_BLUR`, pictures by gallery name or "upload", never by path)."""
    if not isinstance(value, dict):
        raise BadRequest("effect must be a JSON object")
    kind = value.get("effect")
    if not isinstance(kind, str) or kind not in EFFECTS:
        raise BadRequest(f"effect must be one of {', '.join(EFFECTS)}")
    if kind == "blur":
        strength = value.get("strength", DEFAULT_BLUR)
        if (
            isinstance(strength, bool)
            or not isinstance(strength, int | float)
            or not math.isfinite(strength)
            or not 0 <= strength <= MAX_BLUR
        ):
            raise BadRequest(f"blur strength must be a number from 0 to {MAX_BLUR:g}")
        return EffectSpec(blur=float(strength))
    if kind == "color":
        color = value.get("color")
        if not isinstance(color, str) or len(color) > 64:
            raise BadRequest("color must be a CSS colour string, e.g. '#00ff00'")
        try:
            rgb = parse_color(color)
        except (InputError, ValueError):
            raise BadRequest(f"unknown colour {color!r}") from None
        return EffectSpec(color=rgb)
    if kind == "image":
        image = value.get("image")
        if not isinstance(image, str) or not re.fullmatch(r"[a-z0-9-]{1,32}", image):
            raise BadRequest("image must name a gallery picture or 'upload'")
        return EffectSpec(background=image)  # a gallery name or "upload": see `WebServer`
    return EffectSpec(**{kind: True})


def parse_offer(body: bytes | str, models: Sequence[str] = MODEL_NAMES) -> Offer:
    """The JSON body of POST /api/offer -> Offer."""
    data = parse_json(body)
    sdp, kind = data.get("sdp"), data.get("type")
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadRequest("'sdp' must be a non-empty string")
    if len(sdp) > MAX_SDP:
        raise BadRequest(f"'sdp' too large (limit {MAX_SDP:,} characters)", status=413)
    if not sdp.startswith("v=0"):
        raise BadRequest("'sdp' is not a session description")
    if kind != "offer":
        raise BadRequest("'type' must be 'offer'")
    room = data.get("room")
    if room is not None:
        room = check_room(room)
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable():
        raise BadRequest(f"'name' must be a printable string of at most {MAX_NAME} characters")
    model = parse_model(data.get("model", "auto"), models)
    effect = parse_effect(data["effect"]) if data.get("effect") is not None else EffectSpec()
    return Offer(sdp=sdp, room=room, name=name.strip(), model=model, effect=effect)


def parse_control(message: object, models: Sequence[str] = MODEL_NAMES) -> tuple[str, object]:
    """A data-channel message -> ("effect", EffectSpec) | ("model", str) | ("ping", t)."""
    if not isinstance(message, str):
        raise BadRequest("control messages must be JSON text")
    if len(message) > MAX_MESSAGE:
        raise BadRequest(f"control message too large (limit {MAX_MESSAGE} bytes)")
    data = parse_json(message)
    kind = data.get("type")
    if kind == "effect":
        return "effect", parse_effect(data)
    if kind == "model":
        return "model", parse_model(data.get("model"), models)
    if kind == "ping":
        stamp = data.get("t")
        if isinstance(stamp, bool) or not isinstance(stamp, int | float):
            raise BadRequest("ping needs a numeric 't'")
        return "ping", stamp
    raise BadRequest("'type' must be 'effect', 'model' or 'ping'")
