"""`greenroom serve`: the browser front end (see `greenroom.web`)."""

from __future__ import annotations

import ipaddress

import click

from greenroom.extras import require_extra


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    "--ice-server",
    "ice_servers",
    multiple=True,
    metavar="URL",
    help="STUN/TURN server for connections across networks, e.g. "
    "stun:stun.example.org:3478 or turn:USER:PASS@turn.example.org:3478 "
    "(repeatable). None by default: no outside server is contacted.",
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

    for url in ice_servers:
        server.parse_ice_server(url)  # a typo is an error now, not a silent failure later
    context = server.ssl_context(certfile, keyfile)
    scheme = "https" if context else "http"
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"greenroom: serving on {scheme}://{shown}:{port}/  (Ctrl-C stops)")
    if _is_loopback(host):
        click.echo(
            f"greenroom: listening on {host} only: just this computer can connect "
            "(--host 0.0.0.0 to share on your network)"
        )
    else:
        click.echo(
            f"greenroom: listening on {host}: other computers on your network can connect"
            + ("" if context else "; browsers allow the camera there only over https (--certfile)")
        )
    click.echo(
        "greenroom: ICE servers: "
        + (", ".join(ice_servers) if ice_servers else "none (host candidates only)")
    )
    click.echo("greenroom: models offered: " + ", ".join(server.available_models(models_dir)))
    server.run(host, port, ice_servers, ssl_context=context, print_=lambda _: None,
               models_dir=models_dir)
