"""Batch runs: many timelines at once, on this machine or on a Ray cluster.

`jobs` (what to run, from a folder or a manifest), `currency` (what is already up to date),
`worker` (model and library loaded once, serving whole jobs or single shots), `local` and
`cluster` (the two runners), `progress` and `summary` (what the person or the farm sees),
`run` (the whole batch, start to summary).
"""
