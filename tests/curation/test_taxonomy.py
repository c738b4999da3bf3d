import json

import pytest
from django.core.management import CommandError, call_command

from curation.errors import TaxonomyError
from curation.models import Dataset, Topic
from curation.services.taxonomy import taxonomy_read, usv_taxonomy


def test_the_usv_taxonomy_has_32_macro_topics_and_212_micro_topics():
    topics = usv_taxonomy()
    assert len(topics) == 212
    assert len({t.macro_topic for t in topics}) == 32
    names = {t.name: t.macro_topic for t in topics}
    assert names["ASMR"] == "daily life"
    assert names["domestic military intelligence"] == "military"


@pytest.mark.django_db
def test_create_dataset_with_the_usv_taxonomy_from_the_command_line(capsys):
    call_command("create_dataset", "usv", "--name", "USV", "--taxonomy", "usv")
    dataset = Dataset.objects.get(slug="usv")
    assert dataset.topics.count() == 212
    assert dataset.topics.values("macro_topic").distinct().count() == 32
    assert "created dataset usv with 212 topics" in capsys.readouterr().out


@pytest.mark.django_db
def test_loading_a_taxonomy_twice_adds_nothing(dataset, capsys):
    call_command("load_taxonomy", "usv", dataset=dataset.slug)
    assert "0 topics added, 0 updated" in capsys.readouterr().out
    assert Topic.objects.filter(dataset=dataset).count() == 212


@pytest.mark.django_db
def test_a_taxonomy_file_in_csv_or_json_with_synonyms(tmp_path, open_dataset):
    csv_file = tmp_path / "t.csv"
    csv_file.write_text("topic,macro_topic,synonyms\nskateboarding,sport,skate|sk8\nlatte art,food,\n")
    json_file = tmp_path / "t.json"
    json_file.write_text(json.dumps([{"topic": "bonsai", "macro_topic": "plant", "synonyms": ["penjing"]}]))

    call_command("load_taxonomy", str(csv_file), dataset=open_dataset.slug)
    call_command("load_taxonomy", str(json_file), dataset=open_dataset.slug)

    topics = {t.name: (t.macro_topic, t.synonyms) for t in open_dataset.topics.all()}
    assert topics == {
        "skateboarding": ("sport", ["skate", "sk8"]),
        "latte art": ("food", []),
        "bonsai": ("plant", ["penjing"]),
    }


def test_bad_taxonomy_files_name_the_problem(tmp_path):
    (tmp_path / "no-topic.csv").write_text("name,macro\nx,y\n")
    (tmp_path / "twice.csv").write_text("topic\nx\nx\n")
    (tmp_path / "bad.json").write_text("[{]")
    with pytest.raises(TaxonomyError, match="the header must name a 'topic' column"):
        taxonomy_read(tmp_path / "no-topic.csv")
    with pytest.raises(TaxonomyError, match="topic 'x' is listed twice"):
        taxonomy_read(tmp_path / "twice.csv")
    with pytest.raises(TaxonomyError, match="invalid JSON at line 1"):
        taxonomy_read(tmp_path / "bad.json")
    with pytest.raises(TaxonomyError, match="does not exist"):
        taxonomy_read(tmp_path / "nope.csv")


@pytest.mark.django_db
def test_create_dataset_refuses_a_taken_slug_and_bad_settings(dataset):
    with pytest.raises(CommandError, match="a dataset with slug 'usv-sample' already exists"):
        call_command("create_dataset", "usv-sample")
    with pytest.raises(CommandError, match="is not a valid slug"):
        call_command("create_dataset", "Bad Slug")
    with pytest.raises(CommandError, match="a setting is out of range"):
        call_command("create_dataset", "zero-fps", "--sample-fps", "0")
    assert not Dataset.objects.filter(slug="zero-fps").exists()


@pytest.mark.django_db
def test_synonyms_match_manifest_topics(open_dataset, tmp_path, make_clip, write_manifest):
    from curation.services.ingest import video_ingest
    from curation.services.taxonomy import TopicSpec, taxonomy_load

    taxonomy_load(dataset=open_dataset, topics=[TopicSpec("skateboarding", "sport", ["sk8"])])
    make_clip("a.mp4", seconds=1)
    video_ingest(
        dataset=open_dataset, path=write_manifest([{"video": "a.mp4", "topic": "SK8"}]), pipeline="none"
    )
    assert open_dataset.videos.get().weak_topic.name == "skateboarding"
