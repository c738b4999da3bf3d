from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from curation.services.demo import demo_dataset, demo_manifest, demo_users


class Command(BaseCommand):
    help = "Create the demo users and the sample dataset, and ingest its clips (used by make demo)."

    def add_arguments(self, parser):
        parser.add_argument("--real-clips", type=Path, help="folder of real clips to include")
        parser.add_argument("--pipeline", choices=["queue", "inline", "none"], default="queue")

    def handle(self, *args, **options):
        passwords = demo_users()
        dataset = demo_dataset()
        manifest = demo_manifest(real_clips=options["real_clips"])
        call_command(
            "ingest", str(manifest), dataset=dataset.slug, pipeline=options["pipeline"], stdout=self.stdout
        )
        # Topic verification for every clip; tasks are served once a clip's proxy is ready.
        call_command("create_tasks", dataset=dataset.slug, kind="topic", stdout=self.stdout)
        self.stdout.write("\nDemo users (passwords are new on every run):")
        for username, password in passwords.items():
            role = "staff" if username == "curator" else "crowdworker"
            self.stdout.write(f"  {username:8} {password}   ({role})")
        self.stdout.write(f"\nMedia root: {settings.MEDIA_ROOT}")
