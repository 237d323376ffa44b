"""Helpers shared by the Allen Brain Observatory course notebooks.

Modules: ``config`` (where data come from), ``caches`` (open the AllenSDK caches),
``metadata`` (the shipped release tables), ``sample`` (the offline sample).
"""
__version__ = "0.1.0"
