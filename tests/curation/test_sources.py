"""Downloads of URL sources: only to allowed addresses, checked on the connection used."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curation.errors import InvalidSource
from curation.models import StageStatus, Video
from curation.services.ingest import video_ingest
from curation.services.sources import address_is_allowed, url_download


@pytest.fixture
def clip_server(shared_videos):
    """A local HTTP server: /clip.mp4 is a real clip, /redirect sends to the metadata address."""
    body = (shared_videos / "imageio_realshort.mp4").read_bytes()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.end_headers()
                return
            if self.path != "/clip.mp4":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_loopback_server_is_refused_by_default(clip_server, tmp_path):
    with pytest.raises(InvalidSource, match=r"loopback, private or link-local address \(127.0.0.1\)"):
        url_download(f"{clip_server}/clip.mp4", tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_an_allowed_network_is_downloaded_whole(clip_server, tmp_path, settings, shared_videos):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    size = url_download(f"{clip_server}/clip.mp4", tmp_path / "out.mp4")
    assert (tmp_path / "out.mp4").read_bytes() == (shared_videos / "imageio_realshort.mp4").read_bytes()
    assert size == (tmp_path / "out.mp4").stat().st_size


def test_a_redirect_to_a_private_address_is_refused(clip_server, tmp_path, settings):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(InvalidSource, match=r"\(169.254.169.254\)"):
        url_download(f"{clip_server}/redirect", tmp_path / "out.mp4")


def test_a_download_over_the_size_limit_leaves_no_file(clip_server, tmp_path, settings):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.MICROCURATE_DOWNLOAD_MAX_BYTES = 1000
    with pytest.raises(InvalidSource, match="larger than the 1000-byte download limit"):
        url_download(f"{clip_server}/clip.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_url_video_is_fetched_into_the_media_store_and_probed(
    clip_server, settings, media_dir, dataset, write_manifest
):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    manifest = write_manifest(
        [
            {"video": f"{clip_server}/clip.mp4", "id": "remote"},
            {"video": f"{clip_server}/missing.mp4", "id": "gone"},
        ]
    )
    # The URL host is an allowed network here, so ingest accepts both rows.
    video_ingest(dataset=dataset, path=manifest, pipeline="inline")

    remote = Video.objects.get(external_id="remote")
    gone = Video.objects.get(external_id="gone")
    assert remote.probe_status == StageStatus.DONE and remote.duration == pytest.approx(1.199, abs=1e-3)
    assert remote.local_path.startswith(str(media_dir / "sources")) and len(remote.sha256) == 64
    assert gone.probe_status == StageStatus.FAILED
    assert gone.error == f"probe: {clip_server}/missing.mp4: HTTP 404 Not Found"


@pytest.mark.parametrize(
    "host",
    [
        "[::127.0.0.1]",  # IPv4-compatible
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:10.0.0.1]",
        "[64:ff9b::127.0.0.1]",  # NAT64, well-known prefix
        "[64:ff9b::169.254.169.254]",
        "[64:ff9b:1::a00:1]",  # NAT64, local-use prefix
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
        "[2002:a9fe:a9fe::]",  # 6to4 of 169.254.169.254
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(host, tmp_path):
    with pytest.raises(InvalidSource, match="loopback, private or link-local address"):
        url_download(f"http://{host}/clip.mp4", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "address", ["64:ff9b::8.8.8.8", "2002:808:808::1", "::ffff:8.8.8.8", "2607:f8b0:4004:800::200e"]
)
def test_ipv6_forms_of_public_addresses_stay_allowed(address):
    assert address_is_allowed(address)


def test_an_allowed_network_also_allows_its_embedded_ipv6_forms(settings):
    settings.MICROCURATE_URL_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert address_is_allowed("64:ff9b::10.1.2.3") and address_is_allowed("2002:a01:203::1")
    assert not address_is_allowed("64:ff9b::192.168.0.1")
