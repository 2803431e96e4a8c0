"""Media checks for recordings: ffprobe, PyAV and headless Chromium as independent players.

Import it: ``from _players import chromium_play``.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Optional

# headless Chromium without first-run work, background traffic or a GPU
CHROMIUM_HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)

# What both pages start with: the <video> (``{name}`` is filled in by the handler), post()
# that sends the result object ``r`` (each page declares it) once, and errors posted at once.
_PAGE_START = """<!doctype html><html><body>
<video id="v" muted preload="auto" src="/media/{name}"></video>
<script>
const v = document.getElementById('v');
let posted = false;
function post() {{
  if (posted) return; posted = true;
  fetch('/result', {{method: 'POST', body: JSON.stringify(r)}});
}}
v.addEventListener('error', () => {{ r.error = v.error ? v.error.code : -1; post(); }});
"""

PAGE = (
    _PAGE_START
    + """const r = {{events: []}};
v.addEventListener('loadedmetadata', () => {{
  r.duration = v.duration; r.width = v.videoWidth; r.height = v.videoHeight;
  v.currentTime = v.duration / 2;
}});
v.addEventListener('seeked', () => {{
  if (r.seeked === undefined) {{
    r.seeked = v.currentTime;
    v.currentTime = 0;
  }} else if (r.rewound === undefined) {{
    r.rewound = v.currentTime;
    v.play().catch(e => {{ r.play_error = String(e); post(); }});
  }}
}});
v.addEventListener('ended', () => {{
  r.ended = true; r.current_time = v.currentTime;
  const q = v.getVideoPlaybackQuality();
  r.total_frames = q.totalVideoFrames; r.dropped_frames = q.droppedVideoFrames;
  post();
}});
</script></body></html>"""
)


# A fresh page that plays the file once from the start to its end, never seeking, and
# counts frames three ways: requestVideoFrameCallback's presentedFrames (frames handed to
# the compositor) and the distinct mediaTime values it saw (each frame's own timestamp), and
# getVideoPlaybackQuality().totalVideoFrames (decoded frames; no seek, so no frame counted
# twice).
# rVFC is not a witness of every frame: it runs at the page's next rendering step with the
# newest frame only, so when two frames reach the compositor between two steps (a busy
# machine) it sees the second, and presentedFrames has grown by 2 (measured: the first call
# saw frame 1 with presentedFrames 2 in 2 of 8 runs beside 6 busy processes; registering it
# earlier cannot help, it is registered before the page loads). So the frame shown first is
# read from its pixels: at 'loadeddata' (a frame at currentTime 0 is there, play() not yet
# called) the video is drawn on a canvas (``first_frame``: mean gray level, smallest alpha,
# currentTime, paused), and again at 'ended' (``last_frame``, the frame left on screen).
# After 'ended' the page waits for rVFC's call with the last frame (the newest mediaTime
# within 1.5 frame steps of the duration), or 20 s, before it posts.
COUNT_PAGE = (
    _PAGE_START
    + """const r = {{media_times: [], first_presented: null}};
const canvas = document.createElement('canvas');
function shown() {{
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  const g = canvas.getContext('2d', {{willReadFrequently: true}});
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, alpha = 255;
  for (let i = 0; i < d.length; i += 4) {{
    sum += (d[i] + d[i + 1] + d[i + 2]) / 3; alpha = Math.min(alpha, d[i + 3]);
  }}
  return {{gray: sum / (d.length / 4), alpha: alpha, time: v.currentTime, paused: v.paused,
           ready: v.readyState}};
}}
function onFrame(now, meta) {{
  if (r.first_presented === null) r.first_presented = meta.presentedFrames;
  r.presented_frames = meta.presentedFrames;
  const seen = r.media_times;
  if (seen[seen.length - 1] !== meta.mediaTime) seen.push(meta.mediaTime);
  if (!posted) v.requestVideoFrameCallback(onFrame);
}}
v.requestVideoFrameCallback(onFrame);
v.addEventListener('loadedmetadata', () => {{
  r.duration = v.duration; r.width = v.videoWidth; r.height = v.videoHeight;
}});
// a frame drawn onto the canvas, once it can be: at 'loadeddata' or 'ended' the decoded frame
// may not be ready to draw yet on a busy machine (then the canvas stays transparent, alpha 0)
function drawn(then) {{
  const deadline = performance.now() + 20000;
  (function attempt() {{
    const got = shown();
    if (got.alpha !== 255 && performance.now() < deadline) {{ setTimeout(attempt, 20); return; }}
    then(got);
  }})();
}}
v.addEventListener('loadeddata', () => drawn(got => {{
  r.first_frame = got;  // paused at time 0: the file's first frame
  v.play().catch(e => {{ r.play_error = String(e); post(); }});
}}));
function sawLast() {{
  const seen = r.media_times;
  let step = Infinity;
  for (let i = 1; i < seen.length; i++) step = Math.min(step, seen[i] - seen[i - 1]);
  return seen.length > 1 && seen[seen.length - 1] >= v.duration - 1.5 * step;
}}
v.addEventListener('ended', () => {{
  r.ended = true; r.current_time = v.currentTime;
  drawn(got => {{
    r.last_frame = got;
    const deadline = performance.now() + 20000;
    (function wait() {{
      if (!sawLast() && performance.now() < deadline) {{ requestAnimationFrame(wait); return; }}
      const q = v.getVideoPlaybackQuality();
      r.total_frames = q.totalVideoFrames; r.dropped_frames = q.droppedVideoFrames;
      post();
    }})();
  }});
}});
</script></body></html>"""
)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/page.html":
            body = self.server.page.format(name=self.server.media.name).encode()
            self._send(200, body, "text/html")
            return
        if self.path.startswith("/media/"):
            data = self.server.media.read_bytes()
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                first, _, last = rng[6:].partition("-")
                start = int(first or 0)
                end = int(last) if last else len(data) - 1
                end = min(end, len(data) - 1)
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self._body(data[start : end + 1], "video/mp4")
                return
            self.send_response(200)
            self._body(data, "video/mp4")
            return
        self._send(404, b"", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.server.result = json.loads(self.rfile.read(length))
        self._send(200, b"ok", "text/plain")

    def _send(self, code: int, body: bytes, kind: str) -> None:
        self.send_response(code)
        self._body(body, kind)

    def _body(self, body: bytes, kind: str) -> None:
        self.send_header("Content-Type", kind)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def chromium_play(
    media: os.PathLike[str] | str, profile: Path, timeout: float = 60.0, count: bool = False
) -> dict:
    """Play ``media`` in headless Chromium's ``<video>``: duration, seek, play to the end.

    Returns the page's findings (``duration``, ``seeked``, ``ended``, ``total_frames``...).
    With ``count=True`` the page never seeks: it plays once from the start to the end and
    counts the frames (``presented_frames``, ``first_presented``, ``media_times``,
    ``total_frames``) and reads the first and last frames shown from their pixels
    (``first_frame``, ``last_frame``; see ``COUNT_PAGE``).
    """
    chromium = shutil.which("chromium")
    assert chromium, "needs /usr/bin/chromium"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.media = Path(media)  # type: ignore[attr-defined]
    server.page = COUNT_PAGE if count else PAGE  # type: ignore[attr-defined]
    server.result = None  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/page.html"
    proc = subprocess.Popen(
        [
            chromium,
            *CHROMIUM_HEADLESS,
            "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + timeout
        result: Optional[dict] = None
        while time.monotonic() < deadline:
            result = server.result  # type: ignore[attr-defined]
            if result is not None or proc.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        server.shutdown()
        server.server_close()
    assert result is not None, f"Chromium gave no result: {err.decode(errors='replace')[-2000:]}"
    return result


def pyav_frames(path: os.PathLike[str] | str) -> tuple[int, float]:
    """``(frames decoded, duration in s)`` by PyAV (skips the test when av is missing)."""
    import pytest

    av = pytest.importorskip("av")
    with av.open(os.fspath(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
        duration = container.duration / 1e6 if container.duration is not None else float("nan")
    return frames, duration
