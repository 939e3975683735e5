"""Python environments: one small module per kind, all with the same protocol.

Every detector module has:

    KIND: str                 the kind it finds ("uv", "conda", ...)
    PRIORITY: int             lower runs (and wins ties) first
    detect(ctx) -> list[Env]  what it finds, reading only through `ctx` (base.Context)

`all.py` lists them; `detect.py` runs them in parallel, scores and chooses one,
and caches the result keyed by the stat signatures of every path they read.
Platform modules (container, wsl) follow the same shape with `facts(ctx)`.
"""
