"""course_utils.compat: allensdk's acquisition dates read the same under pandas 1.5
(Python 3.11) and pandas 2 (Python 3.12), checked value by value on the real tables."""
import importlib

import pandas as pd
import pytest

from course_utils import compat
from course_utils.config import METADATA_DIR

CLOUD_API = importlib.import_module(compat.PATCHED_MODULES[0])


def _one_by_one(values: pd.Series) -> pd.Series:
    """Each string parsed on its own: the reference the whole-column parse must match."""
    stamps = [pd.Timestamp(v) for v in values]
    return pd.Series([t.tz_localize("UTC") if t.tz is None else t.tz_convert("UTC")
                      for t in stamps], index=values.index)


@pytest.mark.parametrize("table", ["vbo_ophys_session_table", "vbo_behavior_session_table",
                                   "vbo_ophys_experiment_table"])
def test_acquisition_dates_match_a_value_by_value_parse(table):
    compat.patch_allensdk_for_pandas2()
    raw = pd.read_csv(METADATA_DIR / f"{table}.csv", usecols=["date_of_acquisition"])
    values = raw["date_of_acquisition"]
    fraction = values.str.contains(r":\d\d\.\d+")
    assert fraction.any() and not fraction.all()             # mixed: what pandas 2 trips on
    parsed = CLOUD_API.pd.to_datetime(values, utc="True")       # allensdk's own call
    assert (parsed == _one_by_one(values)).all()


def test_known_values():
    compat.patch_allensdk_for_pandas2()
    values = pd.Series(["2019-09-26 09:22:21.772000", "2019-09-25 13:31:46"])
    parsed = CLOUD_API.pd.to_datetime(values, utc="True")
    assert list(parsed) == [pd.Timestamp("2019-09-26 09:22:21.772", tz="UTC"),
                            pd.Timestamp("2019-09-25 13:31:46", tz="UTC")]


def test_patch_only_where_pandas_needs_it():
    assert compat.needs_patch("2.2.3") and not compat.needs_patch("1.5.3")
    compat.patch_allensdk_for_pandas2()
    if compat.needs_patch():
        assert isinstance(CLOUD_API.pd, compat.PandasWithISODates)
        assert CLOUD_API.pd.DataFrame is pd.DataFrame          # everything else is pandas
        with pytest.raises(ValueError, match="doesn't match format"):
            pd.to_datetime(pd.Series(["2019-09-26 09:22:21.772000", "2019-09-25 13:31:46"]))
    else:
        assert CLOUD_API.pd is pd
    assert compat.patch_allensdk_for_pandas2() == []          # idempotent


def test_an_explicit_format_is_respected():
    proxy = compat.PandasWithISODates(pd)
    assert proxy.to_datetime("26/09/2019", format="%d/%m/%Y") == pd.Timestamp("2019-09-26")
    with pytest.raises(ValueError):
        proxy.to_datetime("26/09/2019")                          # ISO 8601 only by default


def test_another_allensdk_layout_is_refused(monkeypatch):
    monkeypatch.setattr(compat, "needs_patch", lambda: True)
    monkeypatch.setattr(CLOUD_API, "pd", object())
    with pytest.raises(RuntimeError, match="not the pinned 2.16.2"):
        compat.patch_allensdk_for_pandas2()
