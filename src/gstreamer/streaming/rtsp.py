"""``RtspServer``: H.264 over RTSP to several clients (``GstRtspServer``)."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .. import _gi
from .._appsrc import AppSrcFeeder, unpack
from .._lifecycle import weak_method
from .._time import Timestamp
from ..context import GstContext, main_loop_running
from ..encoders import live_encoder
from ..errors import ArgumentError, ClosedError, LifecycleError, bind_error, from_gerror
from ..pipeline import quote
from ._base import Server
from .sources import bind_reason, check_mount, url_host

if TYPE_CHECKING:
    from typing import Unpack

    from ._base import ServerOptions

__all__ = ["RtspServer"]

log = logging.getLogger("gstreamer.streaming")


class RtspServer(Server):
    """An RTSP server (``GstRtspServer``) streaming pushed frames as H.264.

    All clients share one encoder (a shared media factory); frames pushed while nobody
    watches are dropped (:meth:`push` returns False) and counted in :attr:`dropped`. A GLib
    main loop is needed: a running :class:`~gstreamer.GstContext` is used, otherwise the
    server runs its own on a main context of its own, so that closing one server never
    stops the loop of another.

    Parameters
    ----------
    width, height : int
        Frame size of the pushed arrays.
    port : int
        RTSP port; 0 picks a free one (see :attr:`port`).
    mount : str
        Path of the stream: ``rtsp://host:port/stream`` by default.
    username, password : str, optional
        Require HTTP basic authentication (both or neither).
    bitrate : int, optional
        H.264 bit rate in kbit/s.
    **options
        ``fps``, ``format``, ``host``: see :class:`~gstreamer.streaming.ServerOptions`.

    Examples
    --------
    >>> with RtspServer(640, 480, port=8554) as server:     # doctest: +SKIP
    ...     for frame in frames:
    ...         server.push(frame)          # ffplay rtsp://127.0.0.1:8554/stream
    """

    scheme = "rtsp"

    def __init__(
        self,
        width: int,
        height: int,
        *,
        port: int = 8554,
        mount: str = "/stream",
        username: Optional[str] = None,
        password: Optional[str] = None,
        bitrate: Optional[int] = None,
        **options: Unpack[ServerOptions],
    ) -> None:
        super().__init__(width, height, port=port, **options)
        if (username is None) != (password is None):
            raise ArgumentError("give both username and password, or neither")
        self.mount = check_mount(mount)
        self.username = username
        self._password = password
        self.bitrate = bitrate
        self._lock = threading.Lock()
        self._feeder: Optional[AppSrcFeeder] = None
        self._media: Any = None
        self._gate: Optional[_KeyframeGate] = None
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None
        self._context: Optional[GstContext] = None
        self._server: Any = None
        self._factory: Any = None
        self._source_id = 0
        self._clients = 0
        self._written = 0
        self._dropped = 0

    @property
    def port(self) -> int:
        """The bound port (the chosen one when ``port=0`` was given)."""
        if self._server is not None:
            return int(self._server.get_bound_port())
        return self._port

    @property
    def url(self) -> str:
        return f"rtsp://{url_host(self.host)}:{self.port}{self.mount}"

    @property
    def clients(self) -> int:
        """Clients connected right now (playing or setting up)."""
        with self._lock:
            return self._clients

    @property
    def playing(self) -> bool:
        """True while the shared stream is set up for at least one client."""
        return self._feeder is not None

    @property
    def frames_written(self) -> int:
        """Frames handed to the shared stream's encoder."""
        return self._written

    @property
    def dropped(self) -> int:
        """Frames dropped because nobody watched, or the encoder was behind."""
        feeder = self._feeder
        return self._dropped + (feeder.dropped if feeder is not None else 0)

    def _launch(self) -> str:
        return (
            f"( appsrc name=src is-live=true format=time caps={quote(self.caps)} ! "
            "queue max-size-buffers=2 leaky=downstream ! videoconvert ! "
            f"video/x-raw,format=I420 ! {live_encoder('h264', self.fps, bitrate=self.bitrate)} ! "
            "rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )

    def _start(self) -> None:
        Gst = _gi.Gst()
        rtsp = _gi.module("GstRtspServer")
        launch = self._launch()
        main_context = None  # the default one, run by the caller's GstContext
        if not main_loop_running():
            self._context = GstContext(isolated=True)
            self._context.startup()
            main_context = self._context.main_context
        server = rtsp.RTSPServer.new()
        server.set_address(self.host)
        server.set_service(str(self._port))
        factory = rtsp.RTSPMediaFactory.new()
        factory.set_launch(launch)
        factory.set_shared(True)
        # weak: the server and factory (kept by GLib) must not keep this object alive
        factory.connect("media-configure", weak_method(self._on_media_configure))
        server.connect("client-connected", weak_method(self._on_client_connected))
        if self.username is not None:
            auth = rtsp.RTSPAuth.new()
            token = rtsp.RTSPToken.new()
            token.set_string("media.factory.role", "streamer")
            auth.add_basic(rtsp.RTSPAuth.make_basic(self.username, self._password), token)
            server.set_auth(auth)
            role, _ = Gst.Structure.from_string(
                "streamer, media.factory.access=(boolean)true, "
                "media.factory.construct=(boolean)true"
            )
            factory.add_role_from_structure(role)
        server.get_mount_points().add_factory(self.mount, factory)
        source_id = server.attach(main_context)
        if not source_id:
            if self._context is not None:
                self._context.shutdown(raise_errors=False)
                self._context = None
            raise bind_error(
                f"{url_host(self.host)}:{self._port}", bind_reason(self.host, self._port)
            )
        self._server, self._factory, self._source_id = server, factory, source_id
        self._finalizer = weakref.finalize(
            self, _shutdown, server, self.mount, source_id, main_context, self._context
        )
        log.info("serving %s", self.url)

    def _on_client_connected(self, server: Any, client: Any) -> None:
        """Main-loop thread: count clients until their connection closes."""
        with self._lock:
            self._clients += 1
        client.connect("closed", weak_method(self._on_client_closed))
        client.connect("pre-play-request", weak_method(self._on_pre_play_request))
        client.connect("play-request", weak_method(self._on_play_request))

    def _on_pre_play_request(self, client: Any, context: Any) -> Any:
        """Main-loop thread: hold every encoded frame back while the client is added to
        the stream (it must not get a frame from the middle of a GOP); the frames of the
        others resume at the keyframe requested by :meth:`_on_play_request`."""
        with self._lock:
            gate = self._gate
        if gate is not None:
            gate.hold()
            # let the frames already past the gate reach the clients before this one is
            # added (measured: one frame in flight); two frame intervals, 50-200 ms
            time.sleep(min(0.2, max(0.05, 2 / float(self.fps))))
        return _gi.module("GstRtsp").RTSPStatusCode.OK

    def _on_play_request(self, client: Any, context: Any) -> None:
        """Main-loop thread: a client starts playing; it must not wait for the next
        keyframe (its decoder would show grey until then), so ask the encoder for one."""
        with self._lock:
            media, gate = self._media, self._gate
        if media is not None and gate is not None:
            gate.close_until_keyframe()
            request_keyframe(media)

    def _on_client_closed(self, client: Any) -> None:
        with self._lock:
            self._clients = max(0, self._clients - 1)

    def _on_media_configure(self, factory: Any, media: Any) -> None:
        """Main-loop thread: a client asked for the stream; hook up its appsrc."""
        try:
            appsrc = media.get_element().get_by_name_recurse_up("src")
            feeder = AppSrcFeeder(
                "video",
                caps=self.caps,
                backpressure="drop-oldest",
                max_buffers=2,
                live=True,
            )
            feeder.attach(appsrc)
            media.connect("unprepared", weak_method(self._on_media_unprepared), feeder)
            pipeline = media.get_element().get_parent()
            if pipeline is not None:
                # the media owns the pipeline and its bus watch; a sync handler only records
                pipeline.get_bus().set_sync_handler(_passing(weak_method(self._on_media_message)))
        except Exception as exc:  # re-raised by push() in the caller's thread
            self._errors.keep(exc)
            return
        gate = _KeyframeGate()
        pay = media.get_element().get_by_name("pay0")
        if pay is not None:
            Gst = _gi.Gst()
            pay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, gate.probe)
        with self._lock:
            self._feeder = feeder
            self._media = media.get_element()
            self._gate = gate
        log.debug("%s: client media configured", self)

    def _on_media_message(self, bus: Any, message: Any, *user_data: Any) -> Any:
        """Streaming threads: keep the media pipeline's first error for :meth:`push`."""
        Gst = _gi.Gst()
        if message.type == Gst.MessageType.ERROR:
            gerror, debug = message.parse_error()
            src = message.src.get_name() if message.src is not None else None
            self._errors.keep(from_gerror(gerror, debug, src))
        return Gst.BusSyncReply.PASS

    def _on_media_unprepared(self, media: Any, feeder: AppSrcFeeder) -> None:
        with self._lock:
            if self._feeder is feeder:
                self._feeder = None
                self._media = None
                self._dropped += feeder.dropped
        log.debug("%s: media unprepared (no more clients)", self)

    def push(self, frame: Any, pts: Timestamp = None) -> bool:
        """Offer one frame to the clients; False when nobody watches (the frame is dropped).

        ``pts`` is in seconds; by default the frame is stamped with the pipeline's running
        time (live).
        """
        self._require_started()
        data, pts_ns, _ = unpack(frame, pts)
        if isinstance(data, np.ndarray):
            self.layout.check_array(data)
        with self._lock:
            feeder = self._feeder
        if feeder is None:
            self._dropped += 1
            return False
        try:
            sent = feeder.push(data, pts_ns, timeout=self.timeout)
        except (LifecycleError, ClosedError):  # the media is being torn down (last client left)
            with self._lock:
                if self._feeder is feeder:
                    self._feeder = None
            self._dropped += 1
            return False
        if sent:
            self._written += 1
        return sent

    def _stop(self) -> None:
        finalizer, self._finalizer = self._finalizer, None
        with self._lock:
            self._feeder = None
            self._media = None
            self._gate = None
        self._server = self._factory = None
        self._source_id = 0
        self._context = None
        if finalizer is not None:
            finalizer()


def _shutdown(
    server: Any,
    mount: str,
    source_id: int,
    main_context: Any,
    context: Optional[GstContext],
) -> None:
    """Stop an RTSP server: drop its clients, unmount, detach, stop its own main loop.

    Also the finaliser of an :class:`RtspServer` dropped without ``close()``.
    """
    GLib = _gi.GLib()
    rtsp = _gi.module("GstRtspServer")
    if server is not None:
        server.client_filter(lambda *args: rtsp.RTSPFilterResult.REMOVE)
        server.get_mount_points().remove_factory(mount)
        if source_id:
            source = (main_context or GLib.MainContext.default()).find_source_by_id(source_id)
            if source is not None:
                source.destroy()
    if context is not None:
        context.shutdown(timeout=5.0, raise_errors=False)


def request_keyframe(media_element: Any) -> None:
    """Ask the encoder of an RTSP media (``pay0``'s upstream) for a keyframe with headers."""
    Gst = _gi.Gst()
    GstVideo = _gi.module("GstVideo")
    pay = media_element.get_by_name("pay0") if media_element is not None else None
    if pay is None:
        return
    event = GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
    pay.get_static_pad("src").send_event(event)


class _KeyframeGate:
    """Drops encoded frames from a client's join until the next keyframe.

    The shared stream is in mid-GOP when a client joins; the frames before the keyframe
    (requested at once) would decode as grey on its side. Dropping the one or two delta
    frames in flight costs the clients already watching a repeated frame, not an artefact:
    the next frame is a keyframe.

    A hold (from a client's PLAY request until it plays) lasts at most ``hold_limit``
    seconds: a PLAY that fails after the request was seen (a bad Range, a client gone)
    never says so, and must not freeze the stream for the clients already watching.
    """

    def __init__(self, hold_limit: float = 2.0) -> None:
        self.hold_limit = hold_limit
        self._state = "open"  # open | held (drop all) | keyframe (drop deltas)
        self._held_until = 0.0

    def hold(self) -> None:
        self._held_until = time.monotonic() + self.hold_limit
        self._state = "held"

    def close_until_keyframe(self) -> None:
        self._state = "keyframe"

    def probe(self, pad: Any, info: Any) -> Any:
        Gst = _gi.Gst()
        state = self._state
        if state == "held":
            if time.monotonic() < self._held_until:
                return Gst.PadProbeReturn.DROP
            # no client started playing: its PLAY failed; resume at the next keyframe
            self._state = state = "keyframe"
        if state == "keyframe":
            buffer = info.get_buffer()
            if buffer is not None and buffer.has_flags(Gst.BufferFlags.DELTA_UNIT):
                return Gst.PadProbeReturn.DROP
            self._state = "open"
        return Gst.PadProbeReturn.OK


def _passing(handler: Any) -> Any:
    """A bus sync handler that passes messages on when ``handler`` (weak) is gone."""

    def sync(bus: Any, message: Any, *user_data: Any) -> Any:
        reply = handler(bus, message, *user_data)
        return reply if reply is not None else _gi.Gst().BusSyncReply.PASS

    return sync
