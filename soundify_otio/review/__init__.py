"""The review loop: the browser review page (server) and the session behind it (picks, auditions, saving)."""
