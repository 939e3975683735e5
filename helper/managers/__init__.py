"""Package managers: one module per tool (pip, uv, poetry, pdm, conda), one protocol.

`registry.choose(project)` picks the manager; every manager implements
sync / add / remove / upgrade / lock / outdated (see base.Manager). The
install transaction (backup, rollback, conflict check) lives in `transaction`
and `conflicts`; the no-op fast path in `state`.
"""
