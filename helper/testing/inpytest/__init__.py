"""The modules that run inside the test environment's pytest process and its Python subprocesses.

`help.py test` copies them into .help/pytest/ as top-level modules (runner.py's
`prepare_plugin`: `helpy_recorder`, loaded with `-p`; `helpy_instrument`,
`helpy_units`, `helpy_opens`, `helpy_shard`; and `sitecustomize` for the
subprocess recorder), and puts that folder alone on PYTHONPATH. They are
stdlib only, and import each other one way:

    recorder -> instrument -> units
    recorder -> opens, shard
    subprocess_recorder -> opens

Each imports its copy (`helpy_<name>`) first and this package's module when
imported from help.py itself (checksums.py uses units, the pipeline shard).
"""
