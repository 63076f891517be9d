"""simtune: benchmark multi-fidelity HPO in simulated time. All metadata lives in setup.cfg."""

from setuptools import setup

setup()
