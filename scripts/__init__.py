"""Command-line tools of the project (run as scripts: `python scripts/<name>.py`)."""
