from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0008_stage_claims"),
    ]

    operations = [
        migrations.AddField(
            model_name="frame",
            name="structure",
            field=models.FloatField(
                blank=True,
                help_text="Share of 16x16 cells with an edge, 0-1; null if sampled before it was measured.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="videosubtitle",
            name="frames",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Per sampled frame: index, timestamp, status (ocr, reused, flat, unreadable) and "
                "boxes [x0, y0, x1, y1 (fractions of the frame), text, confidence, watermark].",
            ),
        ),
        migrations.AlterField(
            model_name="videosubtitle",
            name="frames_skipped",
            field=models.PositiveIntegerField(default=0, help_text="Flat (no edges) or unreadable frames."),
        ),
    ]
