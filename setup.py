"""Package list for setuptools: ci_plugins, plus charts/ shipped as `ci_plugins.charts`."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["ci_plugins", "ci_plugins.*"]), "ci_plugins.charts"],
    package_dir={"ci_plugins.charts": "charts"},
)
