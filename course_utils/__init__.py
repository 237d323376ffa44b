"""Helpers shared by the Allen Brain Observatory course notebooks.

Data: ``config`` (where data come from), ``caches`` (open the AllenSDK caches),
``metadata`` (the shipped release tables), ``sample`` (the offline sample).
Two-photon: ``experiments`` (load planes, read traces), ``tidy`` (tidy trace tables),
``alignment`` (event-triggered responses), ``responses`` (stimulus-response tables).
Neuropixels: ``spikes`` (binned spike counts), ``ecephys`` (units by area, epochs).
Both: ``decoding`` (scikit-learn decoding), ``plotting``, ``export`` (NetCDF files).
Across notebooks: ``reuse`` (results one notebook stores and a later one reads back).

Instructors and maintainers: the ``tools`` subpackage (the command line
``python -m course_utils``, the notebook runner, ``check``, ``fetch``, the site).
"""
__version__ = "0.1.0"
