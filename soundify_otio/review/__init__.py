"""The review loop: editable choices, the HTML report, the preview render and mux."""
