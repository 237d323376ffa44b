"""The shipped release tables and the helpers that query them."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from course_utils.config import METADATA_DIR
from course_utils.metadata import parse_acronyms, read_table, sessions_with_areas

EIGHT = [719161530, 750332458, 750749662, 754312389, 755434585, 756029989, 791319847,
         797828357]


@pytest.mark.parametrize("text, expected", [
    ("['CA1' 'VISrl' nan 'PO']", ["CA1", "VISrl", None, "PO"]),
    ("['TH' 'Eth' 'APN'\n 'VISp' nan]", ["TH", "Eth", "APN", "VISp", None]),   # wrapped repr
    ("['grey', 'VISp', None]", ["grey", "VISp", None]),                          # list literal
    ("[]", []),
])
def test_parse_acronyms_reads_numpy_reprs_and_literals(text, expected):
    assert parse_acronyms(text) == expected


def test_parse_acronyms_accepts_arrays_and_rejects_garbage():
    assert parse_acronyms(np.array(["VISp", np.nan], dtype=object)) == ["VISp", None]
    with pytest.raises(ValueError, match="expected"):
        parse_acronyms("VISp VISl")
    with pytest.raises(TypeError):
        parse_acronyms(3.0)


def test_real_session_table_gives_the_eight_walkthrough_sessions():
    sessions = read_table("vcnp_sessions").set_index("id")
    assert sessions_with_areas(sessions) == EIGHT
    # without the session-type filter, functional_connectivity sessions join in
    assert set(EIGHT) < set(sessions_with_areas(sessions, session_type=None))


def test_sessions_with_areas_validates_input():
    sessions = read_table("vcnp_sessions").set_index("id")
    with pytest.raises(ValueError, match="no session of type"):
        sessions_with_areas(sessions, session_type="brain_observatory_9")
    with pytest.raises(KeyError, match="ecephys_structure_acronyms"):
        sessions_with_areas(sessions.drop(columns="ecephys_structure_acronyms"))
    with pytest.raises(KeyError, match="known tables"):
        read_table("no_such_table")


def test_shipped_tables_match_their_checksums_and_drop_internal_paths():
    sums = dict(line.split()[::-1] for line in (METADATA_DIR / "SHA256SUMS").read_text().splitlines())
    assert len(sums) == 6
    for name, digest in sums.items():
        path = METADATA_DIR / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, name
        assert "file_path" not in pd.read_csv(path, nrows=1).columns


def test_walkthrough_ophys_session_in_real_tables():
    exp = read_table("vbo_ophys_experiment_table")
    s = exp[exp.ophys_session_id == 854060305].set_index("ophys_experiment_id")
    assert s.imaging_depth.to_dict() == {854759890: 275, 854759894: 179, 854759896: 350,
                                         854759898: 83, 854759900: 283, 854759903: 167}
    assert s.targeted_structure.tolist() == ["VISp"] * 4 + ["VISl"] * 2
    cells = read_table("vbo_ophys_cells_table")
    counts = cells[cells.ophys_experiment_id.isin(s.index)].groupby("ophys_experiment_id").size()
    assert counts.tolist() == [3, 14, 3, 11, 9, 13] and counts.sum() == 53
