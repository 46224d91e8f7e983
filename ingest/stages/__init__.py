"""One module per arrow of the pipeline: fetch, extract, normalise, dedup, publish."""
