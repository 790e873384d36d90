"""The sound library: scanning, tags and UCS names, the SQLite index, the choice among files."""
