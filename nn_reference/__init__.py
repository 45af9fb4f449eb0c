"""NumPy reference implementations of the building blocks taught in the course.

One module per chapter topic. Every function is checked against PyTorch in ``tests/``;
where we differ from PyTorch on purpose, the docstring and the chapter say so.
"""
