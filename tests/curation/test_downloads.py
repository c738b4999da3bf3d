"""Downloads end: a whole-download deadline, a minimum rate, a body as long as its Content-Length,
and a declared size over the cap refused before a byte of the body is read. Against a real HTTP
server on loopback (allowed through MICROCURATE_URL_ALLOWED_NETWORKS, as in test_sources)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curation.errors import InvalidSource, TransientStageError
from curation.media_store import file_sha256
from curation.models import StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.pipeline import stage_execute
from curation.services.sources import url_download


@pytest.fixture
def loopback(settings):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # Old code waits a whole read timeout on a stalled server; keep that short here.
    settings.MICROCURATE_DOWNLOAD_TIMEOUT = 5


@pytest.fixture
def bad_server(shared_videos):
    """Each path misbehaves in one way; every drip is bounded so the server stops by itself."""
    body = (shared_videos / "imageio_realshort.mp4").read_bytes()
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            requests.append(self.path)
            try:
                getattr(self, "_" + self.path.strip("/").split(".")[0].replace("-", "_"))()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client hung up, as it should

        def _drip(self, data: bytes, every: float) -> None:
            for byte in data:
                time.sleep(every)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()

        def _trickle(self):  # a byte every 2 s; five bytes, then it hangs up
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self._drip(b"x" * 5, 2.0)

        def _slow_headers(self):  # the status line and headers a byte every 0.5 s, for 10 s
            self._drip(b"HTTP/1.1 200 OK\r\nX-Slow: 1", 0.5)

        def _slow_body(self):  # fast enough for the rate, too slow for the deadline
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            self._drip(b"y" * 40, 0.25)

        def _short(self):  # declares the clip, sends half of it, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True

        def _flaky(self):  # short the first time, whole the next
            if requests.count(self.path) == 1:
                return self._short()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _chunked_cut(self):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"400\r\n" + b"z" * 100)
            self.close_connection = True

        def _huge(self):  # declares a terabyte, sends ten bytes, then holds the line for 8 s
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            time.sleep(8)

        def _undeclared(self):  # no Content-Length: the body ends when the server hangs up
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"u" * 5000)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_server_sending_a_byte_every_two_seconds_is_cut_off_by_the_minimum_rate(
    loopback, bad_server, tmp_path, settings
):
    settings.MICROCURATE_DOWNLOAD_MIN_RATE = 1024
    settings.MICROCURATE_DOWNLOAD_RATE_WINDOW = 1
    started = time.monotonic()
    with pytest.raises(OSError, match=r"slower than 1024 bytes/s \(1 bytes in 2\.\d s\)"):
        url_download(f"{bad_server}/trickle.mp4", tmp_path / "out.mp4")
    assert time.monotonic() - started < 4
    assert list(tmp_path.iterdir()) == []


def test_headers_dripped_a_byte_at_a_time_hit_the_whole_download_deadline(
    loopback, bad_server, tmp_path, settings
):
    settings.MICROCURATE_DOWNLOAD_DEADLINE = 2
    started = time.monotonic()
    with pytest.raises(OSError, match=r"not downloaded within the 2 s deadline"):
        url_download(f"{bad_server}/slow-headers.mp4", tmp_path / "out.mp4")
    assert time.monotonic() - started < 3.5
    assert list(tmp_path.iterdir()) == []


def test_a_body_above_the_minimum_rate_still_ends_at_the_deadline(loopback, bad_server, tmp_path, settings):
    settings.MICROCURATE_DOWNLOAD_DEADLINE = 2
    settings.MICROCURATE_DOWNLOAD_MIN_RATE = 1
    settings.MICROCURATE_DOWNLOAD_RATE_WINDOW = 1
    started = time.monotonic()
    with pytest.raises(OSError, match=r"not downloaded within the 2 s deadline"):
        url_download(f"{bad_server}/slow-body.mp4", tmp_path / "out.mp4")
    assert time.monotonic() - started < 3.5
    assert list(tmp_path.iterdir()) == []


def test_a_body_shorter_than_its_content_length_is_a_network_error_and_leaves_no_file(
    loopback, bad_server, tmp_path
):
    with pytest.raises(OSError, match=r"the connection closed after \d+ of \d+ bytes"):
        url_download(f"{bad_server}/short.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_chunked_body_cut_short_is_a_network_error_and_leaves_no_file(loopback, bad_server, tmp_path):
    with pytest.raises(OSError, match="IncompleteRead"):
        url_download(f"{bad_server}/chunked-cut.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_a_declared_size_over_the_cap_is_refused_before_the_body_is_read(
    loopback, bad_server, tmp_path, settings
):
    settings.MICROCURATE_DOWNLOAD_MAX_BYTES = 1000
    started = time.monotonic()
    with pytest.raises(
        InvalidSource, match=r"larger than the 1000-byte download limit \(declares 1000000000000 bytes\)"
    ):
        url_download(f"{bad_server}/huge.mp4", tmp_path / "out.mp4")
    assert time.monotonic() - started < 2  # the server is still holding the line
    assert list(tmp_path.iterdir()) == []


def test_an_undeclared_body_over_the_cap_is_cut_off_while_reading(loopback, bad_server, tmp_path, settings):
    settings.MICROCURATE_DOWNLOAD_MAX_BYTES = 1000
    with pytest.raises(InvalidSource, match=r"larger than the 1000-byte download limit$"):
        url_download(f"{bad_server}/undeclared.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_short_download_is_retried_and_never_probed_half_written(
    loopback, bad_server, media_dir, dataset, write_manifest, shared_videos
):
    manifest = write_manifest([{"video": f"{bad_server}/flaky.mp4", "id": "flaky"}])
    video_ingest(dataset=dataset, path=manifest, pipeline="none")
    video = Video.objects.get(external_id="flaky")

    with pytest.raises(TransientStageError, match=r"download failed: .*the connection closed after"):
        stage_execute(video_id=video.id, stage_name="probe")
    video.refresh_from_db()
    assert video.probe_status == StageStatus.PENDING and not video.local_path and not video.sha256
    assert [p for p in media_dir.rglob("*") if p.is_file()] == [manifest]

    assert stage_execute(video_id=video.id, stage_name="probe") == StageStatus.DONE
    video.refresh_from_db()
    whole = shared_videos / "imageio_realshort.mp4"
    assert video.sha256 == file_sha256(whole) and video.size_bytes == whole.stat().st_size
