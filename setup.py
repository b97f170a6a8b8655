"""The compiled kernels (everything else is in pyproject.toml): geo/_kernels.pyx, built with Cython."""

from Cython.Build import cythonize
from setuptools import setup

setup(ext_modules=cythonize(["geo/_kernels.pyx"], quiet=True, compiler_directives={"language_level": "3"}))
