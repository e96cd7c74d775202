"""Wiring: each component's one args object, built from the stack's config, plan and names.

The composition layer between planning/rendering and components/: components never see config
or planning (they create whole objects rendered for them); `__main__.py` calls these builders."""
