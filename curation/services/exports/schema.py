"""The one schema of an exported video: what a JSONL line, a Parquet row and a WebDataset
sample's `.json` hold, field by field. JSONL and Parquet share it (nested objects are Parquet
structs, whole numbers stay integers, null where unknown); CSV flattens it (`exports_writers`).

Each field: (name, type, meaning). A type is a name from `_ARROW`, ("list", type) or
("struct", fields). `json` marks free-form objects (keys vary by video): objects in JSONL, JSON
text in Parquet, as Arrow has no type for them that the `datasets` library reads.
"""

from curation.services.exports.rows import PROBE_FIELDS

_PROBE_TYPES = {
    "duration": "float", "duration_source": "text", "fps": "float", "width": "int", "height": "int",
    "rotation": "int", "display_width": "int", "display_height": "int", "has_audio": "bool",
    "video_codec": "text", "audio_codec": "text", "container": "text", "size_bytes": "bigint",
    "sha256": "text",
}  # fmt: skip

FIELDS = (
    ("id", "text", "the video's id in the dataset (the manifest's `id`)"),
    ("source", "text", "the manifest's `video`: a path or an http(s) URL"),
    ("source_kind", "text", "`file` or `url`"),
    ("title", "text", "the title"),
    ("topic", "text", "the weak topic: the query the video was collected by (null: none)"),
    ("macro_topic", "text", "the topic's macro topic"),
    ("publisher", "text", "the uploader's id"),
    ("clicks", "bigint", "views or clicks"),
    ("thumbnail", "text", "the posted thumbnail's path or URL"),
    ("metadata", "json", "the manifest's other fields"),
    ("subset", "text", "`train`, `val` or `test` of the exported split (null: whole dataset)"),
    ("is_noise", "bool", "verified label noise (both annotators said no): kept out of val/test"),
    (
        "verdict",
        ("struct", (
            ("label", "text", "verified, noise, disagreement, unsure or pending (too few answers yet)"),
            ("method", "text", "the aggregation method"),
            ("confidence", "float", "0–1"),
            ("answers_used", "int", "answers behind the verdict"),
            ("answers", ("struct", (
                ("yes", "int", "answers yes"), ("no", "int", "answers no"),
                ("unsure", "int", "answers unsure"),
            )), "answer counts"),
            ("disputed", "bool", "the answers were not unanimous"),
        )),
        "the topic verdict of the exported method (null: no answers)",
    ),
    (
        "probe",
        ("struct", tuple((name, _PROBE_TYPES[name], f"ffprobe: {name}") for name in PROBE_FIELDS)),
        "what ffprobe read (null fields: not probed)",
    ),
    (
        "status",
        ("struct", (
            ("probe", "text", "pending, running, done, failed or skipped"),
            ("frames", "text", "the frames stage"),
            ("ocr", "text", "the OCR stage"),
            ("error", "text", "the reason of the last failure"),
        )),
        "pipeline stages",
    ),
    ("duplicate_group", "bigint", "re-upload group (videos sharing frames); null: none"),
    ("frame_count", "int", "frames sampled at 1 fps"),
    ("candidates", ("list", "int"), "indexes of the candidate thumbnail frames"),
    (
        "thumbnail_truth",
        ("struct", (
            ("frame", "int", "index of the candidate nearest the posted thumbnail"),
            ("timestamp", "float", "its time in seconds"),
            ("similarity", "float", "0–1"),
            ("needs_check", "bool", "similarity too low to trust without a person"),
            ("reason", "text", "why there is no ground truth"),
        )),
        "thumbnail ground truth (null: not computed)",
    ),
    (
        "subtitle",
        ("struct", (
            ("text", "text", "the video-level subtitle (null: none found)"),
            ("reason", "text", "why it is empty"),
            ("cues", ("list", ("struct", (
                ("start", "float", "seconds"), ("end", "float", "seconds"), ("text", "text", "the cue"),
            ))), "timed subtitle cues"),
        )),
        "OCR subtitles (null: not read)",
    ),
    ("scores", "json", "model scores, one object per model version: model, weak_topic_probability, "
     "top_topics [{topic, name, score}], branches {used, missing}, thumbnail_scores {candidate index: "
     "score}, thumbnail_frame (null until a model scored the video)"),
)  # fmt: skip

_ARROW = {"text": "string", "int": "int32", "bigint": "int64", "float": "float64", "bool": "bool_"}
# pandas reads an integer column with nulls as float64 unless the file says otherwise.
_PANDAS_NULLABLE = {"int": "Int32", "bigint": "Int64"}


def _arrow_type(pa, kind):
    if kind == "json":
        return pa.string()
    if isinstance(kind, str):
        return getattr(pa, _ARROW[kind])()
    if kind[0] == "list":
        return pa.list_(_arrow_type(pa, kind[1]))
    return pa.struct([(name, _arrow_type(pa, sub)) for name, sub, _ in kind[1]])


def parquet_schema(pa):
    """The Arrow schema, with pandas metadata so whole-number columns load as nullable integers."""
    import json

    columns = [
        {"name": name, "field_name": name, "pandas_type": "int64", "numpy_type": _PANDAS_NULLABLE[kind],
         "metadata": None}
        for name, kind, _ in FIELDS
        if kind in _PANDAS_NULLABLE
    ]  # fmt: skip
    pandas = {
        "index_columns": [],
        "column_indexes": [],
        "columns": columns,
        "creator": {"library": "microcurate"},
    }
    schema = pa.schema([(name, _arrow_type(pa, kind)) for name, kind, _ in FIELDS])
    return schema.with_metadata({b"pandas": json.dumps(pandas).encode()})


def parquet_row(data: dict) -> dict:
    """A row as Parquet takes it: free-form objects as JSON text."""
    import orjson

    row = dict(data)
    for name, kind, _ in FIELDS:
        if kind == "json" and row[name] is not None:
            row[name] = orjson.dumps(row[name]).decode()
    return row


def fields_table() -> list[tuple[str, str, str]]:
    """(dotted name, type, meaning) for every field and sub-field: the README's table."""
    rows = []

    def walk(prefix: str, fields) -> None:
        for name, kind, meaning in fields:
            dotted = f"{prefix}{name}"
            if isinstance(kind, tuple) and kind[0] == "struct":
                rows.append((dotted, "object", meaning))
                walk(f"{dotted}.", kind[1])
            elif isinstance(kind, tuple) and kind[1] != "int" and kind[1][0] == "struct":
                rows.append((dotted, "list of objects", meaning))
                walk(f"{dotted}[].", kind[1][1])
            elif isinstance(kind, tuple):
                rows.append((dotted, f"list of {kind[1]}", meaning))
            else:
                rows.append((dotted, kind, meaning))

    walk("", FIELDS)
    return rows
