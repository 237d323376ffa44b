"""What Binder's image already holds, so that the course's locks never fight it.

repo2docker builds a Binder image in two steps: it first creates one conda environment
with its own Jupyter server (JupyterLab, notebook, jupyter_server, ipykernel, tornado, ...)
from a lock file it ships, and then ``pip install -r binder/requirements.txt`` into *that
same environment* (for Python >= 3.7 the server and the kernel share it). A pin in our
lock that differs from the server's version makes pip replace the server's package: the
launch can then break (notebook 7.4 requires jupyterlab < 4.5, for example).

So ``./course.sh lock`` resolves both 3.11 locks with the server's versions as uv
constraints (``binder/repo2docker-server-env.txt``): every package both hold is pinned at
the server's version, pip has nothing to replace, and ``./course.sh lab`` runs the same
JupyterLab as Binder. ``tests/test_environment.py`` checks it.

``binder/repo2docker-server-env.txt`` is generated from the conda lock inside the
repo2docker release that mybinder.org runs:

    python -m course_utils.tools.binder server-env \\
        .../site-packages/repo2docker/buildpacks/conda/environment.py-3.11-linux-64.lock \\
        --repo2docker-version 2026.4.0
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..config import REPO_ROOT
from .._fs import atomic_path

SERVER_ENV = REPO_ROOT / "binder" / "repo2docker-server-env.txt"

#: conda-forge packages in repo2docker's lock that are not Python distributions on PyPI
#: (C libraries, the interpreter, Node.js) or are conda-only meta packages.
NOT_ON_PYPI = {
    "_libgcc_mutex", "_openmp_mutex", "python_abi", "python", "tzdata", "ca-certificates",
    "ld_impl_linux-64", "libgomp", "libgcc", "libgcc-ng", "bzip2", "keyutils", "libexpat",
    "libffi", "liblzma", "libnsl", "libstdcxx", "libstdcxx-ng", "libuuid", "libuv",
    "libzlib", "ncurses", "openssl", "yaml", "libedit", "libsodium", "libsqlite",
    "libxcrypt", "readline", "tk", "zlib", "zstd", "icu", "krb5", "nodejs", "zeromq",
    # meta packages: their content is the package named in the comment
    "bleach-with-css",                # bleach + tinycss2
    "jsonschema-with-format-nongpl",  # jsonschema + its format extras
    "jupyterhub-singleuser",          # jupyterhub-base
}
#: conda-forge name -> PyPI name, where they differ beyond PEP 503 normalisation.
PYPI_NAME = {
    "brotli-python": "brotli",
    "python-fastjsonschema": "fastjsonschema",
    "nbconvert-core": "nbconvert",
    "jupyterhub-base": "jupyterhub",
}


def normalise(name: str) -> str:
    """PEP 503 name: ``Jupyter_Server`` -> ``jupyter-server``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def server_env_from_conda_lock(text: str) -> dict[str, str]:
    """PyPI name -> version for every Python distribution in an explicit conda lock.

    Parameters
    ----------
    text : str
        A conda-lock ``@EXPLICIT`` file: one package URL per line, such as
        ``https://conda.anaconda.org/conda-forge/noarch/jupyterlab-4.4.9-pyhd8ed1ab_0.conda#...``.

    Returns
    -------
    dict of str to str
        Sorted by name. Non-Python packages (:data:`NOT_ON_PYPI`) are left out.

    Examples
    --------
    >>> server_env_from_conda_lock(
    ...     "@EXPLICIT\\n"
    ...     "https://conda.anaconda.org/conda-forge/noarch/jupyter_server-2.17.0-pyhcf101f3_0.conda#ab\\n"
    ...     "https://conda.anaconda.org/conda-forge/linux-64/openssl-3.5.4-h26f9b46_0.conda#cd\\n"
    ...     "https://conda.anaconda.org/conda-forge/noarch/nbconvert-core-7.16.6-pyh29332c3_0.conda#ef\\n")
    {'jupyter-server': '2.17.0', 'nbconvert': '7.16.6'}
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith(("http://", "https://")):
            continue
        filename = line.split("#", 1)[0].rsplit("/", 1)[-1]
        stem = re.sub(r"\.(conda|tar\.bz2)$", "", filename)
        if stem == filename:
            raise ValueError(f"not a conda package file name: {filename!r}")
        name, version, _build = stem.rsplit("-", 2)
        if name in NOT_ON_PYPI:
            continue
        found[normalise(PYPI_NAME.get(name, name))] = version
    return dict(sorted(found.items()))


def read_server_env(path: Path = SERVER_ENV) -> dict[str, str]:
    """The vendored server environment: PyPI name -> version (``name==version`` lines)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[normalise(name)] = version
    return pins


def write_server_env(lock: Path, repo2docker_version: str, out: Path = SERVER_ENV) -> None:
    """Write :data:`SERVER_ENV` from repo2docker's conda lock for Python 3.11."""
    pins = server_env_from_conda_lock(lock.read_text())
    head = (
        "# The Jupyter server environment repo2docker builds before it installs\n"
        "# binder/requirements.txt into the same environment (Python 3.11).\n"
        f"# Source: jupyter-repo2docker {repo2docker_version}, file\n"
        f"#   repo2docker/buildpacks/conda/{lock.name}\n"
        "# (github.com/jupyterhub/repo2docker), conda names turned into PyPI names by\n"
        "# course_utils/tools/binder.py. ./course.sh lock uses these as constraints for\n"
        "# requirements.txt and binder/requirements.txt. Do not edit; regenerate with\n"
        "#   python -m course_utils.tools.binder server-env LOCK --repo2docker-version V\n"
    )
    with atomic_path(out) as tmp:
        Path(tmp).write_text(head + "".join(f"{k}=={v}\n" for k, v in pins.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.tools.binder")
    sub = parser.add_subparsers(dest="command", required=True)
    env = sub.add_parser("server-env", help="write binder/repo2docker-server-env.txt "
                         "from repo2docker's environment.py-3.11-linux-64.lock")
    env.add_argument("lock", type=Path)
    env.add_argument("--repo2docker-version", required=True)
    args = parser.parse_args(argv)
    if not args.lock.is_file():
        parser.error(f"{args.lock} is not a file: give repo2docker's "
                     "buildpacks/conda/environment.py-3.11-linux-64.lock")
    write_server_env(args.lock, args.repo2docker_version)
    print(f"wrote {SERVER_ENV.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
