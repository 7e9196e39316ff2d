"""perfkit: PostgreSQL and serverless performance toolkit.

The package root stays import-light so that ``perfkit --help`` is fast; every
capability lives in its own subpackage and imports its heavy dependencies lazily.
"""

__version__ = "0.1.0"
