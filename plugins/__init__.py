"""Optional plugins. Each sub-package's __init__ defines PLUGIN (see helper.plugins)."""
