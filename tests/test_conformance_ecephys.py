"""The Neuropixels sample, read through AllenSDK, is the real data's structural twin:
every object in ``tests/real_schema/visual_coding_neuropixels.json`` (one test per entry)
has the real columns, index name, dtype families and known real values; the session has
the real 30 epochs, invalid intervals and rig name; and the sample folder holds the
tables in the shape the Allen warehouse serves them."""
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import ECEPHYS_SESSION
from course_utils.metadata import read_table
from schema_check import FAMILIES, frame_differences, load_schema, mapping_differences

SCHEMA = load_schema("visual_coding_neuropixels")
NO_FILTERS = dict(amplitude_cutoff_maximum=np.inf, presence_ratio_minimum=-np.inf,
                  isi_violations_maximum=np.inf)

# How each entry's object is obtained: f(cache, session).
GETTERS = {
    "cache.get_session_table": lambda c, s: c.get_session_table(),
    "cache.get_session_table.loc[756029989]":
        lambda c, s: c.get_session_table().loc[ECEPHYS_SESSION].to_dict(),
    "cache.table_lengths": lambda c, s: {
        "get_session_table": len(c.get_session_table()), "get_probes": len(c.get_probes()),
        "get_channels": len(c.get_channels()), "get_units": len(c.get_units()),
        "get_units_unfiltered": len(c.get_units(**NO_FILTERS))},
    "cache.get_probes": lambda c, s: c.get_probes(),
    "cache.get_channels": lambda c, s: c.get_channels(),
    "cache.get_units": lambda c, s: c.get_units(),
    "session.units": lambda c, s: s.units,
    "session.probes": lambda c, s: s.probes,
    "session.channels": lambda c, s: s.channels,
    "session.stimulus_presentations": lambda c, s: s.stimulus_presentations,
    "session.get_stimulus_table(['drifting_gratings'])":
        lambda c, s: s.get_stimulus_table(["drifting_gratings"]),
    "session.epochs_756029989": lambda c, s: s.get_stimulus_epochs(),
    "session.invalid_times": lambda c, s: s.invalid_times,
    "session.metadata": lambda c, s: s.metadata,
}

# The 15 stimulus epochs of session 756029989, in order (each after a spontaneous one).
STIMULUS_EPOCHS = ["gabors", "flashes", "drifting_gratings", "natural_movie_three",
                   "natural_movie_one", "drifting_gratings", "natural_movie_three",
                   "drifting_gratings", "static_gratings", "natural_scenes", "natural_scenes",
                   "static_gratings", "natural_movie_one", "natural_scenes", "static_gratings"]

# The warehouse's raw CSV columns, which EcephysProjectCache caches as sessions.csv etc.
# sessions/probes: EcephysProjectWarehouseApi.get_sessions/get_probes (allensdk 2.16.2) and
# the released ecephys-cache CSV headers (as quoted in a public data README found by the
# search tools); channels: the tabular list in get_channels; units: the columns
# cache.get_units() shows, before AllenSDK renames them.
RAW_COLUMNS = {
    "sessions": ["id", "date_of_acquisition", "isi_experiment_id", "published_at",
                 "specimen_id", "session_type", "age_in_days", "sex", "genotype", "has_nwb"],
    "probes": ["id", "air_channel_index", "ecephys_session_id", "lfp_sampling_rate",
               "lfp_temporal_subsampling_factor", "name", "phase", "sampling_rate",
               "surface_channel_index", "has_lfp_data"],
    "channels": ["id", "ecephys_probe_id", "local_index", "probe_horizontal_position",
                 "probe_vertical_position", "anterior_posterior_ccf_coordinate",
                 "dorsal_ventral_ccf_coordinate", "left_right_ccf_coordinate",
                 "ecephys_structure_id", "ecephys_structure_acronym"],
    "units": ["id", "PT_ratio", "amplitude", "amplitude_cutoff", "cumulative_drift",
              "d_prime", "duration", "ecephys_channel_id", "firing_rate", "halfwidth",
              "isi_violations", "isolation_distance", "l_ratio", "max_drift", "nn_hit_rate",
              "nn_miss_rate", "presence_ratio", "quality", "recovery_slope",
              "repolarization_slope", "silhouette_score", "snr", "spread", "velocity_above",
              "velocity_below"],
}


def _get(name, cache, session):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GETTERS[name](cache, session)


def _value_differences(df: pd.DataFrame, values: dict, tolerance: float = 1e-6) -> list:
    """Where the columns of ``df`` differ from a sequence entry's real values (times
    compared within ``tolerance`` s, the precision they were printed with)."""
    out = []
    for column, real in values.items():
        actual = list(df[column])
        if len(actual) != len(real):
            out.append(f"{column}: {len(actual)} rows, real {len(real)}")
            continue
        for i, (a, r) in enumerate(zip(actual, real)):
            if isinstance(r, float):
                same = isinstance(a, (int, float, np.number)) and abs(float(a) - r) <= tolerance
            elif isinstance(r, int):      # a block number: AllenSDK 2.x gives 0.0, 1.0, ...
                same = (isinstance(a, (int, float, np.number)) and not isinstance(a, bool)
                        and float(a) == r)
            else:
                same = a == r
            if not same:
                out.append(f"{column}[{i}] is {a!r}, real {r!r}")
    return out


def test_every_entry_is_checked_and_cites_its_source():
    assert set(GETTERS) == set(SCHEMA)
    for name, entry in SCHEMA.items():
        source = entry["source"]
        assert source["repo"] and source["path"] and source["note"], name
        assert len(source["commit"]) == 40 and int(source["commit"], 16) >= 0, name
        assert source["cell"] is None or isinstance(source["cell"], int), name
        assert source["allensdk_version"], name
        assert entry["certain"] or entry.get("uncertain_because"), name
        families = {**entry.get("columns", {}), **entry.get("keys", {})}
        assert set(families.values()) <= FAMILIES, name
        assert set(entry.get("uncertain_dtypes", [])) <= set(families), name


@pytest.mark.parametrize("name", list(SCHEMA))
def test_sample_matches_the_real_schema(name, ecephys_cache, ecephys_session):
    entry = SCHEMA[name]
    obj = _get(name, ecephys_cache, ecephys_session)
    if entry["kind"] == "mapping":
        differences = mapping_differences(obj, entry)
    else:
        differences = frame_differences(obj, entry)
        if entry["kind"] == "sequence":
            differences += _value_differences(obj, entry.get("values", {}))
    assert differences == [], f"{name} ({entry['what']}) differs from real data"


def test_thirty_real_epochs(ecephys_session):
    epochs = ecephys_session.get_stimulus_epochs()
    assert len(epochs) == 30
    names = epochs["stimulus_name"].tolist()
    assert names[0::2] == ["spontaneous"] * 15 and names[1::2] == STIMULUS_EPOCHS
    assert names[-1] == "static_gratings"                  # no trailing spontaneous epoch
    real = SCHEMA["session.epochs_756029989"]["values"]
    np.testing.assert_allclose(epochs["start_time"], real["start_time"], atol=1e-6)
    np.testing.assert_allclose(epochs["stop_time"], real["stop_time"], atol=1e-6)
    # Stimulus types shown in two or more epochs (what notebook 05 decodes).
    repeated = sorted(n for n, k in pd.Series(STIMULUS_EPOCHS).value_counts().items() if k >= 2)
    assert repeated == ["drifting_gratings", "natural_movie_one", "natural_movie_three",
                        "natural_scenes", "static_gratings"]


def test_presentation_counts_follow_the_real_timing(ecephys_session):
    """Real presentation timing fills the real epochs with the real counts; 70,390 is what
    another brain_observatory_1.1 session prints (source of session.stimulus_presentations)."""
    table = ecephys_session.stimulus_presentations
    assert len(table) == 70390
    assert table["stimulus_name"].value_counts().to_dict() == {
        "natural_movie_three": 36000, "natural_movie_one": 18000, "static_gratings": 6000,
        "natural_scenes": 5950, "gabors": 3645, "drifting_gratings": 630, "flashes": 150,
        "spontaneous": 15}
    assert not (table["stimulus_name"] == "invalid_presentation").any()


def test_invalid_times_are_real_shaped_and_warn(ecephys_session):
    invalid = ecephys_session.invalid_times
    assert len(invalid) > 0
    probes = ecephys_session.probes
    for tags in invalid["tags"]:
        scope, scope_id, label = list(tags)
        assert scope in {"EcephysSession", "EcephysProbe"}
        if scope == "EcephysProbe":
            assert probes.loc[int(scope_id), "description"] == label
    with pytest.warns(UserWarning, match="invalid time intervals"):
        ecephys_session._warn_invalid_spike_intervals()   # what spike_times does once


def test_session_file_metadata(ecephys_session):
    assert ecephys_session.rig_equipment_name == "NP.1"
    assert ecephys_session.metadata["rig_equipment_name"] == "NP.1"
    assert str(ecephys_session.session_start_time) == "2018-10-26 12:59:18-07:00"
    probes = ecephys_session.probes
    assert probes["has_lfp_data"].all() and probes["lfp_sampling_rate"].between(1249, 1251).all()


def test_sample_folder_holds_the_warehouse_tables(sample_path):
    folder = sample_path / "visual_coding_neuropixels"
    for name, columns in RAW_COLUMNS.items():
        header = pd.read_csv(folder / f"{name}.csv", nrows=0).columns.tolist()
        assert header == columns, name
    # AllenSDK divides the warehouse's LFP rate by the subsampling factor: the shipped
    # (processed) rates come back.
    probes = pd.read_csv(folder / "probes.csv", index_col="id")
    shipped = read_table("vcnp_probes").set_index("id")
    rate = probes["lfp_sampling_rate"] / probes["lfp_temporal_subsampling_factor"]
    np.testing.assert_allclose(rate.loc[shipped.index], shipped["lfp_sampling_rate"], rtol=1e-12)
