"""Issue 14's test: the same answers through every path that makes verdicts give the same verdicts.

The paths: the live per-task verdict (`Task.verdict`, set as answers come in), the database
aggregation (`aggregate` → `VideoVerdict`) and `aggregate_file` on the same answers written out.
"""

import csv
from io import StringIO

import pytest
from django.core.management import call_command

from annotator.models import Answer, Task
from annotator.services.aggregation import dataset_aggregate
from annotator.services.answers import answer_submit
from annotator.services.assignment import assignment_next
from annotator.services.creation import task_make_gold, tasks_create
from curation.models import VideoVerdict

pytestmark = pytest.mark.django_db

# Per case: worker1's answer, worker2's answer ("" = no answer yet) and the verdict every path gives.
CASES = {
    "lone yes": ("yes", "", "pending"),
    "lone no": ("no", "", "pending"),
    "yes + no": ("yes", "no", "disagreement"),
    "unsure + yes": ("unsure", "yes", "unsure"),
    "no + no": ("no", "no", "noise"),
    "yes + yes": ("yes", "yes", "verified"),
    "gold no, answered yes": ("yes", "yes", "noise"),
}


def answer_served(worker, choices: dict) -> None:
    while (assignment := assignment_next(worker=worker)) is not None:
        answer_submit(worker=worker, assignment_id=assignment.id, choice=choices[assignment.task.video_id])


def test_live_tasks_the_aggregate_and_aggregate_file_give_the_same_verdicts(
    dataset, ready_video, worker1, worker2, tmp_path
):
    assert dataset.annotation_overlap == 2
    video = {case: ready_video(title=case) for case in CASES if not case.startswith("lone")}
    tasks_create(dataset=dataset, kind="topic")
    task_make_gold(task=Task.objects.get(video=video["gold no, answered yes"]), answer="no")
    for index, worker in enumerate((worker1, worker2)):
        answer_served(worker, {v.id: CASES[case][index] for case, v in video.items()})
    # The lone answers' tasks come later, so worker2 is never served them.
    video |= {case: ready_video(title=case) for case in CASES if case.startswith("lone")}
    tasks_create(dataset=dataset, kind="topic")
    answer_served(worker1, {video[case].id: CASES[case][0] for case in CASES if case.startswith("lone")})
    expected = {case: verdict for case, (_, _, verdict) in CASES.items()}

    live = dict(Task.objects.values_list("video_id", "verdict"))
    dataset_aggregate(dataset=dataset)
    stored = dict(VideoVerdict.objects.values_list("video_id", "label"))
    answers_file, verdicts_file = tmp_path / "answers.csv", tmp_path / "verdicts.csv"
    with open(answers_file, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["item", "worker", "label", "gold"])
        for row in Answer.objects.values_list("task__video_id", "worker_id", "choice", "task__gold_answer"):
            writer.writerow(row)
    out = StringIO()
    call_command("aggregate_file", answers_file, "--out", verdicts_file, "--min-answers", "2", stdout=out)
    with open(verdicts_file, newline="") as f:
        from_file = {int(row["item"]): row["verdict"] for row in csv.DictReader(f)}

    for name, verdicts in (("live", live), ("aggregate", stored), ("aggregate_file", from_file)):
        assert {case: verdicts[v.id] for case, v in video.items()} == expected, name
    assert "method usv" in out.getvalue()
