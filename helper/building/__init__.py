"""Building: a PEP 517 front end, the artifact cache, versions, releases, images, uploads.

One job per module: `buildsystem` reads [build-system], `isolation` makes the
build environment, `backend` calls the hooks through `_hook_runner`, `verify`
checks artifacts, `artifacts` caches them, `versioning`/`version_files` bump
versions, `release` runs steps with rollback, `image` builds containers and
`publish` uploads.
"""
