"""The web console's static files (design.md §15): HTML, CSS and ES modules, committed as they run.

No build step: `static/` is served as it is by edge/routes/console.py. Shipped as package data
(pyproject's [tool.setuptools.package-data]), so an installed edge finds them beside this module.
"""
