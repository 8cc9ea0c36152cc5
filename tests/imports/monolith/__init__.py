"""A tiny Django project shaped as the monolith of design.md §13 (apps `user` and `loan`), run in a
subprocess of its own (tests/imports/monolith/build.py) so the test process never loads Django."""
