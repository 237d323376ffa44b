"""Helpers shared by the Allen Brain Observatory course notebooks.

Data: ``config`` (where data come from), ``caches`` (open the AllenSDK caches),
``metadata`` (the shipped release tables), ``sample`` (the offline sample).
Two-photon: ``experiments`` (load planes, read traces), ``tidy`` (tidy trace tables),
``alignment`` (event-triggered responses), ``responses`` (stimulus-response tables).
Neuropixels: ``spikes`` (binned spike counts), ``ecephys`` (units by area, epochs).
Both: ``decoding`` (scikit-learn decoding), ``plotting``, ``export`` (NetCDF files).
Instructors: ``check`` (is the environment ready?), ``fetch`` (download the real files the
notebooks use, listed by ``allen_files``, with ``download``: resumed and verified).
Site: ``site`` (build-site: a static site of the executed notebooks), ``site_pages``
(its pages and launch links).
"""
__version__ = "0.1.0"
