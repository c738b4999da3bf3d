# The annotation fixtures (videos with a done pipeline, candidate frames, a crowd of workers).
from tests.annotator.conftest import crowd, ready_video, with_frames  # noqa: F401
