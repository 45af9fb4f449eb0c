"""The course's grader: nbgrader configured for ``solutions/``, with batch tools around it.

See ``python -m grader --help`` and the README's instructor section.
"""
