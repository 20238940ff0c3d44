"""Stage 7, what a run says: events presented as they come (``reporters/``, through the event
pipe), ``report.json`` (``document``), ``report.html`` (``html``, ``lanes``), the reports of a CI
matrix merged (``merge``) and ``layerctl report`` (``command``).

Enters: events and report rows (``core.events``). Leaves: output on the terminal, report files.
"""
