"""`greenroom serve`: the browser front end (see `greenroom.web`)."""

from __future__ import annotations

import click

from greenroom.errors import GreenroomError, describe_os_error
from greenroom.extras import require_extra


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720), or a one-line error."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and min(int(width), int(height)) >= 16):
        raise click.BadParameter(f"{text!r} is not a size like 1280x720", param_hint="--max-video")
    return int(width), int(height)


@click.command("serve")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. The default lets only this computer connect; "
    "0.0.0.0 shares the page on your network.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--allow-host",
    "allowed_hosts",
    multiple=True,
    metavar="NAME",
    help="Another host name the page may be opened under (repeatable), e.g. a DNS name "
    "pointing at this computer. Loopback names, and with --host 0.0.0.0 this computer's "
    "own names and addresses, are always allowed; any other Host is refused, which stops "
    "DNS-rebinding pages.",
)
@click.option(
    "--ice-server",
    "ice_servers",
    multiple=True,
    metavar="URL",
    help="STUN/TURN server for connections across networks, e.g. "
    "stun:stun.example.org:3478 or turn:USER:PASS@turn.example.org:3478 "
    "(repeatable). None by default: no outside server is contacted.",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(1, 1000),
    default=16,
    show_default=True,
    help="Most sessions at once (each runs a model on the CPU).",
)
@click.option(
    "--max-per-address",
    type=click.IntRange(1, 1000),
    default=6,
    show_default=True,
    help="Most sessions from one client address.",
)
@click.option(
    "--max-video",
    default="1280x720",
    show_default=True,
    metavar="WxH",
    help="Larger incoming video is scaled down to fit before processing (either orientation).",
)
@click.option(
    "--certfile",
    type=click.Path(exists=True, dir_okay=False),
    help="TLS certificate (PEM): serve https, which browsers require for the camera "
    "on any address but localhost.",
)
@click.option(
    "--keyfile",
    type=click.Path(exists=True, dir_okay=False),
    help="Private key for --certfile, if not inside it.",
)
@click.option(
    "--models-dir",
    type=click.Path(file_okay=False),
    help="Folder of downloaded models (default: $GREENROOM_MODELS, else the user cache "
    "folder). The page offers 'auto', the built-in models and those found here; the server "
    "never downloads one.",
)
def serve(
    host: str,
    port: int,
    ice_servers: tuple[str, ...],
    allowed_hosts: tuple[str, ...],
    max_sessions: int,
    max_per_address: int,
    max_video: str,
    certfile: str | None,
    keyfile: str | None,
    models_dir: str | None,
) -> None:
    """Serve a web page that shows your camera with its background blurred or replaced, live.

    Open the address it prints, allow the camera and pick an effect. /room/NAME joins a room:
    everyone in it sees everyone else's processed video.
    """
    require_extra("web", "greenroom serve")
    from greenroom.web import server
    from greenroom.web.limits import Limits

    limits = Limits(
        sessions=max_sessions, per_address=max_per_address, video=parse_size(max_video)
    )
    for url in ice_servers:
        server.parse_ice_server(url)  # a typo is an error now, not a silent failure later
    context = server.ssl_context(certfile, keyfile)
    shown = f"[{host}]" if ":" in host else host
    lines = banner(host, shown, port, context is not None, ice_servers,
                   server.available_models(models_dir))

    def listening(_: str) -> None:  # called once the port is ours
        for line in lines:
            click.echo(f"greenroom: {line}")

    try:
        server.run(
            host,
            port,
            ice_servers,
            ssl_context=context,
            print_=listening,
            models_dir=models_dir,
            allowed_hosts=allowed_hosts,
            limits=limits,
        )
    except OSError as exc:  # the port is taken, the address is not ours, ...
        raise GreenroomError(describe_os_error(f"cannot listen on {shown}:{port}", exc)) from None


def banner(
    host: str,
    shown: str,
    port: int,
    https: bool,
    ice_servers: tuple[str, ...],
    models: tuple[str, ...],
) -> list[str]:
    """What `serve` says once listening: the address, who can connect, ICE servers, models."""
    from greenroom.web.guard import is_loopback

    scheme = "https" if https else "http"
    lines = [f"serving on {scheme}://{shown}:{port}/  (Ctrl-C stops)"]
    if is_loopback(host):
        lines.append(
            f"listening on {host} only: just this computer can connect, and media stays on "
            "loopback too (--host 0.0.0.0 to share on your network)"
        )
    else:
        lines.append(
            f"listening on {host}: other computers on your network can connect"
            + ("" if https else "; browsers allow the camera there only over https (--certfile)")
        )
    lines.append(
        "ICE servers: " + (", ".join(ice_servers) if ice_servers else "none (host candidates only)")
    )
    lines.append("models offered: " + ", ".join(models))
    return lines
