"""`help.py run`'s parts: .env from a template, process specs, readiness, supervision, detection."""
