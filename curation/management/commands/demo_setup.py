import time
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from curation.services.demo import DEMO_CLIPS, demo_dataset, demo_frames_coming, demo_manifest, demo_users


class Command(BaseCommand):
    help = "Create the demo users and the sample dataset, and ingest its clips (used by make demo)."

    def add_arguments(self, parser):
        parser.add_argument("--real-clips", type=Path, help="folder of real clips to include")
        parser.add_argument("--pipeline", choices=["queue", "inline", "none"], default="queue")
        parser.add_argument(
            "--clips", type=int, default=DEMO_CLIPS, help=f"generated clips (default {DEMO_CLIPS})"
        )
        parser.add_argument(
            "--follow-thumbnails",
            action="store_true",
            help="only make thumbnail tasks as videos' frames are done, until none is left to come",
        )
        parser.add_argument(
            "--poll", type=float, default=5.0, help="seconds between looks (--follow-thumbnails)"
        )

    def handle(self, *args, **options):
        if options["follow_thumbnails"]:
            return self.follow_thumbnails(options["poll"])
        passwords = demo_users()
        dataset = demo_dataset()
        manifest = demo_manifest(real_clips=options["real_clips"], clips=options["clips"])
        call_command(
            "ingest", str(manifest), dataset=dataset.slug, pipeline=options["pipeline"], stdout=self.stdout
        )
        # Topic verification for every clip; tasks are served once a clip's proxy is ready.
        call_command("create_tasks", dataset=dataset.slug, kind="topic", stdout=self.stdout)
        if options["pipeline"] == "inline":  # the frames are there already: thumbnail tasks too
            call_command("create_tasks", dataset=dataset.slug, kind="thumbnail", stdout=self.stdout)
        self.stdout.write("\nDemo users (passwords are new on every run):")
        for username, password in passwords.items():
            role = "staff" if username == "curator" else "crowdworker"
            self.stdout.write(f"  {username:8} {password}   ({role})")
        self.stdout.write(f"\nMedia root: {settings.MEDIA_ROOT}")

    def follow_thumbnails(self, poll: float) -> None:
        """A thumbnail task needs the video's candidate frames, which the queued pipeline makes one
        video after another: make the tasks of the videos done so far, look again, and stop once no
        video's frames are still to come (re-running create_tasks makes only what is missing)."""
        dataset = demo_dataset()
        while True:
            coming = demo_frames_coming(dataset)
            out = StringIO()
            call_command("create_tasks", dataset=dataset.slug, kind="thumbnail", stdout=out)
            if ": 0 new " not in out.getvalue():
                self.stdout.write(out.getvalue().rstrip())
            if not coming:
                return
            time.sleep(poll)
