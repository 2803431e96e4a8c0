"""The ``gstreamer`` command line, in-process through ``main(argv)`` and as subprocesses."""

from __future__ import annotations

import http.client
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _helpers import ffprobe_stream, interrupt, run, started

from gstreamer import GstVideoSink, Reader, cli
from gstreamer.pipeline import quote
from gstreamer.streaming import udp_source

pytestmark = pytest.mark.timeout(90)

PY = sys.executable


def run_cli(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run([PY, "-m", "gstreamer", *argv], timeout=timeout)


class Served:
    """A ``gstreamer serve`` subprocess; ``url`` is the first line it prints."""

    def __init__(self, *argv: str) -> None:
        self.proc = subprocess.Popen(
            [PY, "-m", "gstreamer", "serve", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("serving "):
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"server did not start: {line!r} {err}")
        self.url = line.split()[1]

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def ffmpeg_frames(url: str, frames: int = 5, *extra: str) -> int:
    cmd = [
        "ffmpeg", "-nostdin", "-v", "error", "-probesize", "32768", "-analyzeduration", "500000",
        *extra, "-i", url, "-frames:v", str(frames), "-f", "framemd5", "-",
    ]  # fmt: skip
    result = run(cmd, timeout=40)
    assert result.returncode == 0, result.stderr
    return sum(1 for line in result.stdout.splitlines() if line and not line.startswith("#"))


# -- basics --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_python_m_gstreamer_and_console_script_show_all_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("demo", "appsrc", "appsink", "launch", "serve", "doctor"):
        assert command in result.stdout
    script = Path(sys.executable).with_name("gstreamer")
    if script.exists():
        out = subprocess.run([str(script), "doctor"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "OK: the core works" in out.stdout


@pytest.mark.e2e
def test_demo_still_records(tmp_path):
    out = tmp_path / "demo.mp4"
    rc = cli.main(
        ["demo", "-n", "12", "--width", "64", "--height", "48", "-o", str(out), "--no-window"]
    )
    assert rc == 0
    assert ffprobe_stream(out, "nb_read_frames", "width") == {
        "width": "64",
        "nb_read_frames": "12",
    }


def test_doctor_reports_versions_and_elements(capsys):
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "GStreamer 1." in out
    assert "PyGObject 3." in out
    assert "RTSP server typelib" in out
    for name in ("x264enc", "mp4mux", "jpegenc"):
        assert f"  {name} " in out
    assert "hardware encoders:" in out


def test_doctor_names_the_package_for_a_missing_element(capsys, monkeypatch):
    monkeypatch.setattr(cli, "KEY_ELEMENTS", ("x264enc", "vaapih264enc", "nosuchthing"))
    assert cli.main(["doctor"]) == 0  # optional elements do not fail the core
    out = capsys.readouterr().out
    assert "vaapih264enc     MISSING  apt-get install gstreamer1.0-vaapi" in out
    assert "nosuchthing      MISSING  (package unknown)" in out


def test_doctor_fails_when_a_core_element_is_missing(capsys, monkeypatch):
    monkeypatch.setattr(cli, "CORE_ELEMENTS", ("appsrc", "nosuchcore"))
    assert cli.main(["doctor"]) == 1
    assert "FAIL: core elements are missing" in capsys.readouterr().out


# -- appsrc / appsink ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "width", "height"), [("RGB", 64, 48), ("GRAY8", 62, 46), ("I420", 64, 48)]
)
def test_appsrc_pushes_frames_sized_from_the_caps(tmp_path, capsys, fmt, width, height):
    out = tmp_path / f"{fmt}.mp4"
    pipeline = (
        f"appsrc caps=video/x-raw,format={fmt},width={width},height={height},framerate=25/1 "
        f"! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! "
        f"filesink location={quote(out)}"
    )
    assert cli.main(["appsrc", "-p", pipeline, "-n", "20"]) == 0
    printed = capsys.readouterr().out
    assert f"pushed 20 buffers ({width}x{height} {fmt})" in printed
    info = ffprobe_stream(out, "nb_read_frames", "width", "height", "r_frame_rate")
    assert info == {
        "width": str(width),
        "height": str(height),
        "r_frame_rate": "25/1",
        "nb_read_frames": "20",
    }


def test_appsrc_without_caps_explains_what_to_add(capsys):
    assert cli.main(["appsrc", "-p", "appsrc ! fakesink", "-n", "2"]) == 1
    err = capsys.readouterr().err
    assert "appsrc has no caps" in err and "caps=video/x-raw" in err


def test_appsink_prints_shape_and_pts(capsys):
    rc = cli.main(
        [
            "appsink",
            "-p",
            "videotestsrc num-buffers=4 ! video/x-raw,width=32,height=24,framerate=10/1",
        ]
    )
    assert rc == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"frame {i} shape=(24, 32, 3) dtype=uint8 pts={i / 10:.6f}" for i in range(4)]


def test_appsink_saves_npy_files(tmp_path, capsys):
    rc = cli.main(
        [
            "appsink",
            "-q",
            "--save",
            str(tmp_path / "frames"),
            "--format",
            "GRAY8",
            "-p",
            "videotestsrc num-buffers=5 pattern=white ! video/x-raw,width=30,height=20",
        ]
    )
    assert rc == 0
    files = sorted((tmp_path / "frames").iterdir())
    assert [f.name for f in files] == [f"frame_{i:06d}.npy" for i in range(5)]
    for f in files:
        array = np.load(f)
        assert array.shape == (20, 30) and array.dtype == np.uint8
        assert array.min() >= 230  # white in limited-range luma is 235
    assert "5 frames" in capsys.readouterr().err


# -- launch --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_launch_runs_to_eos_with_a_progress_bar(tmp_path, capsys):
    src = tmp_path / "src.mp4"
    assert (
        cli.main(
            [
                "launch",
                "-q",
                "videotestsrc",
                "num-buffers=45",
                "!",
                "video/x-raw,width=64,height=48,framerate=30/1",
                "!",
                "x264enc",
                "speed-preset=ultrafast",
                "!",
                "mp4mux",
                "!",
                "filesink",
                f"location={src}",
            ]
        )
        == 0
    )
    assert ffprobe_stream(src, "nb_read_frames")["nb_read_frames"] == "45"
    capsys.readouterr()
    # decoding a file in real time: the duration is known, so a progress bar is shown
    rc = cli.main(
        ["launch", "filesrc", f"location={src}", "!", "decodebin", "!", "fakesink", "sync=true"]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert "%" in err and "/ 00:01.5" in err
    assert "100.0% 00:01.5 / 00:01.5" in err  # a finished run ends on a full bar
    assert "end of stream after" in err


@pytest.mark.e2e
def test_output_closed_early_is_not_a_traceback():
    # `gstreamer doctor | head -1`: the reader is gone before we print
    proc = subprocess.Popen(
        [PY, "-m", "gstreamer", "doctor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


@pytest.mark.e2e
def test_launch_shows_live_fps_when_the_duration_is_unknown(capsys):
    rc = cli.main(
        [
            "launch",
            "videotestsrc",
            "is-live=true",
            "!",
            "video/x-raw,width=32,height=24,framerate=30/1",
            "!",
            "identity",
            "eos-after=30",
            "!",
            "fakesink",
        ]
    )
    assert rc == 0
    err = capsys.readouterr().err
    assert " frames, " in err and " per s" in err
    # identity eos-after=30 lets 29 frames through, then ends the stream
    assert re.search(r"end of stream after [0-9.]+ s, 29 frames", err), err


def test_launch_error_gives_nonzero_exit_and_a_clear_message(capsys):
    assert cli.main(["launch", "filesrc", "location=/nonexistent/x.mp4", "!", "fakesink"]) == 1
    err = capsys.readouterr().err
    assert "gstreamer launch: error:" in err and "/nonexistent/x.mp4" in err
    assert "Hint:" in err


def test_launch_missing_element_and_bad_syntax(capsys):
    assert cli.main(["launch", "videotestsrc", "!", "nosuchelement", "!", "fakesink"]) == 1
    assert "no element 'nosuchelement'" in capsys.readouterr().err
    assert cli.main(["launch"]) == 2
    assert "give a pipeline" in capsys.readouterr().err


@pytest.mark.e2e
def test_launch_sigint_sends_eos_so_the_mp4_is_complete(tmp_path):
    out = tmp_path / "live.mp4"
    cmd = [
        PY, "-m", "gstreamer", "launch", "videotestsrc", "is-live=true",
        "!", "video/x-raw,width=160,height=120,framerate=30/1",
        "!", "x264enc", "speed-preset=ultrafast", "tune=zerolatency",
        "!", "mp4mux", "!", "filesink", f"location={out}",
    ]  # fmt: skip
    with started(cmd) as proc:
        line = proc.stderr.readline()  # the first progress line: it is running
        assert "frames" in line, line
        time.sleep(1.0)
        _, err = interrupt(proc, timeout=30)
    assert proc.returncode == 130, err
    assert "sending end-of-stream" in err
    info = ffprobe_stream(out, "nb_read_frames", "width", "codec_name")
    assert info["codec_name"] == "h264" and info["width"] == "160"
    assert int(info["nb_read_frames"]) >= 20


# -- serve ---------------------------------------------------------------------------------


@pytest.mark.e2e
def test_serve_tcp_generated_frames_read_by_ffmpeg():
    server = Served("tcp", "--port", "0", "--duration", "30", "-q")
    try:
        assert server.url.startswith("tcp://127.0.0.1:")
        assert ffmpeg_frames(server.url, 5) == 5
    finally:
        rc, _, err = server.stop()
    assert rc == 0, err
    assert "served" in err


@pytest.mark.e2e
def test_serve_rtsp_with_password(tmp_path):
    server = Served(
        "rtsp",
        "--port",
        "0",
        "--user",
        "bob",
        "--password",
        "pw",
        "--width",
        "160",
        "--height",
        "120",
        "--duration",
        "30",
        "-q",
    )
    try:
        assert server.url.startswith("rtsp://127.0.0.1:") and server.url.endswith("/stream")
        good = server.url.replace("rtsp://", "rtsp://bob:pw@")
        assert ffmpeg_frames(good, 5, "-rtsp_transport", "tcp") == 5
        bad = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-rtsp_transport",
                "tcp",
                server.url.replace("rtsp://", "rtsp://bob:nope@"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert bad.returncode != 0 and "401" in bad.stderr
    finally:
        rc, _, err = server.stop()
    assert rc == 0, err


@pytest.mark.e2e
def test_serve_http_from_a_file_whose_name_tries_to_inject_elements(tmp_path):
    evil = tmp_path / 'clip" ! fakesink name=x ! fakesink location="y.mp4'
    with GstVideoSink(
        f"appsrc ! videoconvert ! x264enc speed-preset=ultrafast ! mp4mux ! "
        f"filesink location={quote(evil)}",
        width=96,
        height=64,
        fps=30,
    ) as sink:
        for _ in range(60):
            sink.push(np.full((64, 96, 3), (250, 10, 10), np.uint8))
    assert evil.exists() and not (tmp_path / "y.mp4").exists()
    server = Served("http", "--port", "0", "--from", str(evil), "-q")
    try:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/snapshot.jpg")
        resp = conn.getresponse()
        jpeg = resp.read()
        conn.close()
    finally:
        rc, _, err = server.stop()
    assert rc == 0, err
    assert resp.status == 200
    snap = tmp_path / "snap.jpg"
    snap.write_bytes(jpeg)
    assert ffprobe_stream(snap, "width", "height") == {"width": "96", "height": "64"}
    with Reader(str(snap)) as reader:
        frame = reader.read()
    assert frame is not None
    mean = np.asarray(frame.data).reshape(-1, 3).mean(axis=0)
    assert mean[0] > 200 and mean[1] < 60 and mean[2] < 60


@pytest.mark.e2e
def test_serve_udp_to_a_reader():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Reader(udp_source(port), timeout=20) as reader:
        server = Served(
            "udp", "--port", str(port), "--width", "80", "--height", "64", "--duration", "30", "-q"
        )
        try:
            frames = [reader.read() for _ in range(3)]
        finally:
            rc, _, err = server.stop()
    assert rc == 0, err
    assert all(f is not None and f.shape == (64, 80, 3) for f in frames)


@pytest.mark.e2e
def test_serve_stops_after_num_buffers(capsys):
    rc = cli.main(
        [
            "serve",
            "http",
            "--port",
            "0",
            "-n",
            "5",
            "--fps",
            "50",
            "-q",
            "--width",
            "32",
            "--height",
            "24",
        ]
    )
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("serving http://127.0.0.1:")
    assert "served 5 frames" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tcp", "--host", "127.0.0.1 ! fakesink"], "invalid host"),
        (["rtsp", "--mount", '/s" ! fakesink'], "invalid mount"),
        (["rtsp", "--user", "a"], "both --user and --password"),
        (["http", "--port", "99999"], "invalid port"),
        (["udp", "--port", "0"], "give its --port"),
    ],
)
def test_serve_rejects_bad_values_before_building_a_pipeline(capsys, argv, message):
    assert cli.main(["serve", *argv, "-n", "1"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.e2e  # a fresh interpreter in a child process
def test_cli_configures_logging_only_when_run():
    code = (
        "import logging, gstreamer.cli, gstreamer.streaming; "
        "assert not logging.getLogger().handlers; print('ok')"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def _indexed_clip(
    path: Path, n: int = 90, size: tuple[int, int] = (160, 120), fps: int = 30
) -> Path:
    """A clip whose frame i has the value 40 + 6 * (i % 30) burnt into a 16x16 corner block."""
    width, height = size
    frames = []
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:16, :16] = 40 + 6 * (i % 30)
        frames.append(frame)
    from gstreamer import write_frames

    write_frames(path, frames, fps=fps, encoder="x264enc pass=quant quantizer=0")
    return path


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    from gstreamer import __version__

    assert capsys.readouterr().out.strip() == f"gstreamer-numpy {__version__}"


@pytest.mark.e2e
def test_convert_resizes_to_webm_with_a_progress_bar_and_a_summary(tmp_path):
    src = _indexed_clip(tmp_path / "in.mp4")
    out = tmp_path / "out.webm"
    proc = run_cli("convert", str(src), str(out), "--size", "320x240")
    assert proc.returncode == 0, proc.stderr
    assert re.fullmatch(
        r"converted 90 frames \(320x240, 30 fps\) to .*out\.webm with vp8enc in [0-9.]+ s "
        r"\([0-9.]+ fps\)\n",
        proc.stdout,
    ), proc.stdout
    assert "100.0%  90/90 frames" in proc.stderr  # the bar's last state
    info = ffprobe_stream(out, "codec_name", "width", "height", "nb_read_frames")
    assert info == {"codec_name": "vp8", "width": "320", "height": "240", "nb_read_frames": "90"}


def test_convert_cuts_by_time_and_changes_the_frame_rate(tmp_path, capsys):
    src = _indexed_clip(tmp_path / "in.mp4")
    out = tmp_path / "cut.mkv"
    assert cli.main(["convert", str(src), str(out), "--start", "1", "--end", "2", "-q"]) == 0
    assert "converted 30 frames" in capsys.readouterr().out

    # frames 30..59 of the source, in order: the burnt-in values (6 apart from frame to
    # frame) match those of the same frames converted without a cut
    def marks(path):
        return [int(np.median(f.data[4:12, 4:12])) for f in Reader(path, timeout=30)]

    got = marks(out)
    full = tmp_path / "full.mkv"
    assert cli.main(["convert", str(src), str(full), "-q"]) == 0
    assert got == pytest.approx(marks(full)[30:60], abs=2)
    assert cli.main(["convert", str(src), str(out), "--fps", "10", "--end", "0:02", "-q"]) == 0
    assert ffprobe_stream(out, "r_frame_rate", "nb_read_frames") == {
        "r_frame_rate": "10/1",
        "nb_read_frames": "20",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "320"], "give WIDTHxHEIGHT"),
        (["--start", "3", "--end", "1"], "--end must be after --start"),
        (["--start", "99"], "no frames to convert"),
    ],
)
def test_convert_rejects_bad_arguments(tmp_path, capsys, argv, message):
    src = _indexed_clip(tmp_path / "in.mp4", n=10)
    try:
        rc = cli.main(["convert", str(src), str(tmp_path / "o.mp4"), "-q", *argv])
    except SystemExit as exit_:  # argparse's own errors
        rc = exit_.code
    assert rc == 2
    assert message in capsys.readouterr().err


def test_convert_missing_input_says_no_such_file(tmp_path, capsys):
    assert cli.main(["convert", str(tmp_path / "nope.mp4"), str(tmp_path / "o.mp4")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_launch_counts_frames_not_muxer_buffers(tmp_path, capsys):
    out = tmp_path / "a.mp4"
    rc = cli.main(
        ["launch", "-q", "videotestsrc", "num-buffers=300", "!", "x264enc", "!", "mp4mux",
         "!", "filesink", f"location={out}"]
    )  # fmt: skip
    assert rc == 0
    assert re.search(r"end of stream after [0-9.]+ s, 300 frames$", capsys.readouterr().err)


def test_serve_loop_repeats_the_file(tmp_path, capsys):
    # served at the file's own rate (200 fps): this test takes 0.2 s, not 1 s
    src = _indexed_clip(tmp_path / "in.mp4", n=10, fps=200)
    argv = ["serve", "http", "--port", "0", "--from", str(src), "-q"]
    assert cli.main([*argv, "--loop", "-n", "25"]) == 0
    captured = capsys.readouterr()
    assert "(160x120 @ 200 fps)" in captured.out
    assert "served 25 frames" in captured.err
    assert cli.main([*argv, "--fps", "400", "-n", "3"]) == 0  # --fps says the rate
    assert "@ 400 fps)" in capsys.readouterr().out
    assert cli.main([*argv, "-n", "25"]) == 0  # without --loop it ends with the file
    assert "served 10 frames" in capsys.readouterr().err
    assert cli.main(["serve", "http", "--port", "0", "--loop", "-n", "1"]) == 2
    assert "give --from" in capsys.readouterr().err


def test_doctor_tells_the_truth_about_display_sinks(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "display: none (DISPLAY and WAYLAND_DISPLAY are unset)" in out
    assert re.search(
        r"autovideosink +ok +\(installed; no display, so it raises NoDisplayError\)", out
    )
    monkeypatch.setenv("DISPLAY", ":7391")  # set, but no X server there
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "display: X11 :7391: CANNOT BE OPENED" in out
    assert "autovideosink    ok  (installed, but the display cannot be opened)" in out


@pytest.mark.e2e
def test_convert_ctrl_c_finishes_the_file_and_exits_130(tmp_path):
    out = tmp_path / "live.mp4"
    live = "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1"
    with started([PY, "-m", "gstreamer", "convert", live, str(out)]) as proc:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.stat().st_size > 0) and time.monotonic() < deadline:
            time.sleep(0.05)  # the writer opened the file: frames are flowing
        time.sleep(0.5)
        stdout, err = interrupt(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted; finishing the file" in err
    assert stdout.startswith("converted ")
    assert int(ffprobe_stream(out, "nb_read_frames")["nb_read_frames"]) > 0


@pytest.mark.parametrize(("returned", "code"), [(None, 0), (0, 0), (3, 3)])
def test_run_main_exits_with_what_main_returns(returned, code, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.run_main(lambda: returned)
    assert (exited.value.code or 0) == code  # SystemExit(None) exits with status 0
    assert capsys.readouterr().err == ""


def test_run_main_turns_ctrl_c_into_exit_code_130(capsys):
    def main() -> int:
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exited:
        cli.run_main(main)
    assert exited.value.code == 130
    assert capsys.readouterr().err == "stopped (Ctrl-C)\n"


@pytest.mark.parametrize(("given", "rate"), [([], "15/1"), (["--fps", "25"], "25/1")])
def test_serve_hls_from_a_file_keeps_its_rate_unless_fps_is_given(tmp_path, given, rate):
    """``serve hls --from FILE`` writes the file's own frame rate (15 fps here), not 30;
    ``--fps`` says the rate."""
    import threading

    from gstreamer import HlsWriter

    src = _indexed_clip(tmp_path / "in.mp4", n=15, fps=15)
    out = tmp_path / "hls"
    out.mkdir()
    argv = ["serve", "hls", "--from", str(src), "--dir", str(out), "--fast", *given]
    args = cli.build_parser().parse_args(argv)
    cli._write_hls(args, str(out), HlsWriter, threading.Event())
    info = ffprobe_stream(out / "segment00000.ts", "r_frame_rate", "nb_read_frames")
    assert info == {"r_frame_rate": rate, "nb_read_frames": "15"}
