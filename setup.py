"""The compiled kernels (everything else is in pyproject.toml): geo/_kernels.pyx and geo/_transit.pyx, built with Cython."""

from Cython.Build import cythonize
from setuptools import setup

setup(
    ext_modules=cythonize(
        ["geo/_kernels.pyx", "geo/_transit.pyx"], quiet=True, compiler_directives={"language_level": "3"}
    )
)
