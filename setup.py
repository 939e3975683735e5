"""Packaging: which packages an installed help.py ships (the rest of the metadata is in pyproject.toml).

The repository's top-level plugins/ folder (what a vendored `python help.py` uses) is
installed as `helper_plugins`: site-packages never gains a generic package named
`plugins`. helper.plugins finds either one.
"""

from setuptools import find_packages, setup

bundled = find_packages(include=["plugins", "plugins.*"])
setup(
    packages=[
        *find_packages(include=["helper", "helper.*"]),
        *("helper_plugins" + name[len("plugins") :] for name in bundled),
    ],
    package_dir={"helper_plugins": "plugins"},
)
