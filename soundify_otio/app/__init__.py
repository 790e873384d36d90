"""The application layer: one run of soundify, from the files a user names to the files it writes.

`api` is its public face (`annotate_timeline`, `Session`, `AnalysedTimeline`, `write_timeline`);
the command line, the batch workers, the review server and the Resolve script call this layer and
none of them assembles a run itself.
"""
