"""The stream path's Lambda handlers, each `handler` in its module (the SAM template's
handler strings are `ingestion.stream.handlers.<module>.handler`)."""
