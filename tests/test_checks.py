"""Ids and names are never silently reinterpreted (issue 14, item 5): a fractional id is
refused rather than truncated, and a bare area string is refused rather than split into
its letters. Each check runs before anything is loaded."""
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from course_utils import _checks
from course_utils.ecephys import units_by_area
from course_utils.experiments import load_experiments
from course_utils.metadata import sessions_with_areas


@pytest.mark.parametrize("value, expected", [(854759890, 854759890),
                                             (np.int64(854759890), 854759890),
                                             (854759890.0, 854759890)])
def test_whole_number_ids_are_accepted(value, expected):
    assert _checks.id_value(value, "ophys experiment") == expected
    assert _checks.id_list([value, value], "x") == [expected, expected]
    assert _checks.id_list(value, "x") == [expected]


@pytest.mark.parametrize("value, error, message", [
    (854759890.9, ValueError, "whole number, got 854759890.9"),
    (np.float64("nan"), ValueError, "whole number"),
    ("854759890", TypeError, "got the string '854759890'"),
    (True, TypeError, "whole number, got True"),
])
def test_other_ids_are_refused(value, error, message):
    with pytest.raises(error, match=message):
        _checks.id_list(value, "ophys experiment")


def test_a_fractional_experiment_id_is_refused_before_loading():
    class Cache:                         # any load would be a failure of the check
        def get_ophys_experiment_table(self):
            return pd.DataFrame(index=pd.Index([854759890], name="ophys_experiment_id"))

        def get_behavior_ophys_experiment(self, i):
            raise AssertionError(f"loaded {i}: the id was truncated, not refused")

    with pytest.raises(ValueError, match="whole number, got 854759890.9"):
        load_experiments(Cache(), [854759890.9])


def test_a_bare_area_string_is_refused_not_split_into_letters():
    units = pd.DataFrame({"ecephys_structure_acronym": ["VISp", "VISp", "VISl"]},
                         index=pd.Index([1, 2, 3], name="unit_id"))
    session = SimpleNamespace(units=units, ecephys_session_id=1)
    with pytest.raises(TypeError, match=r"single string 'VISp': write \['VISp'\]"):
        units_by_area(session, "VISp")
    assert units_by_area(session, ["VISp"]).index.tolist() == [1, 2]
    sessions = pd.DataFrame({"ecephys_structure_acronyms": ["['VISp', 'VISl']"],
                             "session_type": ["brain_observatory_1.1"]}, index=[7])
    with pytest.raises(TypeError, match="single string"):
        sessions_with_areas(sessions, "VISp")
    assert sessions_with_areas(sessions, ["VISp"]) == [7]
