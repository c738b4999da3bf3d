"""The curation app's hand-written SQL, one module per family: `ingest` (the batch's COPY straight
into the video table, look-ups of stored rows, the COPY text format) and `ingest_staging` (the
staging-table path), `exports` (an export's rows and frames), `labels` (the verdict upsert),
`splits` (a split's members).

Written by hand where a benchmark pays for it (bench/README.md); everything else is the ORM.
Tables are named through the models (`Video._meta.db_table`), never spelled out; functions
return dataclasses or plain tuples whose order their docstrings give. Services and selectors
import from here; nothing here imports them.
"""
