"""The verdict vocabulary, without numpy: the models' choices import it at start-up, and every
command loads the models (ml.verdicts, which decides verdicts, imports it too)."""

YES, NO, UNSURE_ANSWER = "yes", "no", "unsure"
TOPIC_ANSWERS = (YES, NO, UNSURE_ANSWER)
# Topic outcomes; ml.verdicts' arrays hold the index into this tuple.
VERIFIED, NOISE, DISAGREEMENT, UNSURE, PENDING = "verified", "noise", "disagreement", "unsure", "pending"
TOPIC_VERDICTS = (VERIFIED, NOISE, DISAGREEMENT, UNSURE, PENDING)
# Thumbnail outcomes: the plurality pick against the ground-truth frame.
MATCHES_TRUTH, DIFFERS = "matches_truth", "differs"
THUMBNAIL_VERDICTS = (MATCHES_TRUTH, DIFFERS, DISAGREEMENT, PENDING)
METHODS = ("auto", "usv", "mv", "ds")
