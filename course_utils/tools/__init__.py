"""Tools for instructors and maintainers, not for learners' analyses.

``cli`` (the command line, ``python -m course_utils``), ``runner`` (execute notebooks
headless, with time and memory report), ``check`` (is this environment ready?),
``fetch``, ``download`` and ``allen_files`` (download the real files the notebooks use),
``authoring`` (stored outputs, learner versions), ``colab`` and ``py312`` (the Colab
badge, setup cell and Python 3.12 recipe), ``site`` and ``site_pages`` (a static site of
the executed notebooks). The modules notebooks import never import these.
"""
