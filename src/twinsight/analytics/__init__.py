"""Analytics: turning a twin's streams into judgements — what is wrong, what comes next.

This layer sits on ``core`` only (later also on ``sim`` and ``history`` interfaces): it
never reaches a storage backend, the API, the hub or the command line, so a detector runs
the same inside the hub, in a benchmark or in a notebook.
"""
