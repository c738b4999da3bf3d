"""A dataset whose `show_model_guesses` is on shows its crowdworkers the model's guess beside the
topic question, marked as the model's; by default the task page shows none (a guess biases the
answer)."""

import pytest

from tests.annotator.test_order_payload import scored_task  # noqa: F401 (the fixture)
from tests.e2e.test_annotation_browser import browser, log_in  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("shown", [True, False])
def test_the_task_page_shows_the_models_guess_only_where_the_dataset_asks(
    browser,  # noqa: F811
    live_server,
    dataset,
    worker1,
    scored_task,  # noqa: F811
    shown,
):
    if shown:
        dataset.settings = {"annotation": {"show_model_guesses": True}}
        dataset.save()

    page = log_in(browser, live_server, "worker1", "/work/%3Fkind%3Dtopic")
    assert page.text_content("#topic") == scored_task["weak"].name
    if shown:
        assert page.is_visible("#guess")
        assert page.text_content("#guess") == (
            f"Model's guess: {scored_task['top'].name} · 12 % that the topic above is right"
        )
    else:
        assert page.is_hidden("#guess") and page.text_content("#guess") == ""
