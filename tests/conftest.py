"""Shared fixtures: the offline sample (built once if missing) and the AllenSDK objects
read from it, loaded once per test run."""
import warnings

import pytest

from course_utils.caches import open_ecephys_cache, open_ophys_cache
from course_utils.sample import ensure_sample

OPHYS_SESSION = 854060305
EXPERIMENTS = [854759890, 854759894, 854759896, 854759898, 854759900, 854759903]
ECEPHYS_SESSION = 756029989


@pytest.fixture(scope="session")
def sample_path():
    return ensure_sample(progress=False)


@pytest.fixture(scope="session")
def ophys_cache(sample_path):
    return open_ophys_cache(source="sample")


@pytest.fixture(scope="session")
def ophys_experiments(ophys_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {e: ophys_cache.get_behavior_ophys_experiment(e) for e in EXPERIMENTS}


@pytest.fixture(scope="session")
def ecephys_cache(sample_path):
    return open_ecephys_cache(source="sample")


@pytest.fixture(scope="session")
def ecephys_session(ecephys_cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ecephys_cache.get_session_data(ECEPHYS_SESSION)
