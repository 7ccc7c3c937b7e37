"""The ingestion pipeline: load -> parse -> chunk -> embed -> store."""
