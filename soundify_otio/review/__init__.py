"""The review loop: the HTML report, the preview render and mux, the review server and its session."""
