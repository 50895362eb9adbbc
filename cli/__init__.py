"""The `online-retail` command line, the top layer: it imports everything below it
(`bi`, `local_stack`, `ingestion`) and nothing imports it.

A package rather than one `cli.py`, because it holds two things: the parser and the one
error path (`main.py`), and what each subcommand does (`commands.py`).
"""
