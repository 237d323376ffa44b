"""The other seven brain_observatory_1.1 sessions that record all six visual areas,
built on demand into the Neuropixels sample.

The default build ships one Neuropixels session (756029989). ``load_ecephys_session``
on the sample and ``python -m course_utils bin-sessions`` (the walkthrough's eight) build
the others they need, as does ``python -m course_utils build-sample --more-sessions``,
through :func:`ensure_more_sessions`, which writes the missing ones next to it::

    visual_coding_neuropixels/session_<id>/session_<id>.nwb
    visual_coding_neuropixels/session_<id>/.course_session.json   what was built, from
                                                                   which sample; hashes

so that ``EcephysProjectCache.get_session_data(<id>)`` opens them like any other. Each
session is written in a temporary sibling of the sample folder and renamed into place
only when complete. The recipe's ``[ecephys.more_sessions]`` says how they differ from
756029989 (fewer units, lower rates, shifted epochs; data/README.md too).

>>> from course_utils.sample.more_sessions import ensure_more_sessions
>>> ensure_more_sessions([719161530])   # doctest: +SKIP

(builds it the first time: 15-25 s; later calls return at once)
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .._fs import blake2b_of, swap_into_place
from ..config import METADATA_DIR, RECIPE_PATH, sample_dir
from . import ecephys_synth
from .build import (ECEPHYS_DIR, OWNER, SESSION_RECORD, _jobs, _PeakMemory, _quiet,
                    build_sample, build_workers, inventory_problems, read_marker,
                    remove_stale_temporaries)
from .generate import ecephys_tables, load_recipe


def more_session_ids(recipe: dict | None = None) -> tuple[int, ...]:
    """The sessions built on demand (the recipe's ``[ecephys.more_sessions]``)."""
    recipe = recipe or load_recipe()
    return tuple(int(i) for i in recipe["ecephys"]["more_sessions"]["session_ids"])


def checked_session_ids(ids="all", recipe: dict | None = None) -> list[int]:
    """``ids`` ("all", one id or several) as a list of session ids the sample builds on
    demand; anything else raises ``ValueError`` naming the ones it can build."""
    known = more_session_ids(recipe)
    if ids is None or (isinstance(ids, str) and ids == "all"):
        return list(known)
    if isinstance(ids, (int, np.integer, str)):
        ids = [ids]
    out = []
    for value in ids:
        try:
            session_id = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"session id {value!r} is not a number; the sample can build "
                             f"{', '.join(map(str, known))}") from None
        if session_id not in known:
            raise ValueError(
                f"session {session_id} is not one the offline sample builds on demand "
                f"({', '.join(map(str, known))}; 756029989 is always there). Other "
                "sessions need the real data (COURSE_DATA_SOURCE=allen).")
        if session_id not in out:
            out.append(session_id)
    return out


def _session_dir(target: Path, session_id: int) -> Path:
    return Path(target) / ECEPHYS_DIR / f"session_{session_id}"


def read_session_record(session_id: int, target: Path | None = None) -> dict | None:
    """The record of a session built on demand, or None if it is not built."""
    path = _session_dir(target or sample_dir(), session_id) / SESSION_RECORD
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def session_problems(session_id: int, target: Path | None = None,
                     hashes: bool = False) -> list[str]:
    """Why a session built on demand cannot be used as it is ("" problems: fine):
    not built, built for another sample, a file missing or changed (sizes; every byte
    with ``hashes``)."""
    target = Path(target or sample_dir())
    record = read_session_record(session_id, target)
    if record is None:
        return [f"session_{session_id}: not built"]
    marker = read_marker(target) or {}
    if record.get("sample_sha256") != marker.get("source_sha256"):
        return [f"session_{session_id}: built for another version of the sample"]
    folder = f"{ECEPHYS_DIR}/session_{session_id}"
    return inventory_problems(target, {f"{folder}/{name}": expected for name, expected
                                       in record.get("inventory", {}).items()}, hashes)


def session_inputs(recipe: dict, session_id: int, anatomy=None) -> dict:
    """Everything :func:`ecephys_nwb.write_session` needs for one session built on
    demand, generated from the recipe (deterministic: the same arrays whichever sessions
    are built, in whatever order).

    ``anatomy`` is ``ecephys_tables(recipe)[1:]`` (sessions, probes, presentations,
    channels, units), computed here when not given.
    """
    from allensdk.brain_observatory.ecephys import get_unit_filter_value

    cfg, more = recipe["ecephys"], recipe["ecephys"]["more_sessions"]
    sessions, probes, _, channels, units = anatomy or ecephys_tables(recipe)[1:]
    # the session's own stream: the seed's fourth child, keyed by the session id
    rng = np.random.default_rng(np.random.SeedSequence(int(recipe["seed"]),
                                                       spawn_key=(3, session_id)))
    probes = probes[probes["ecephys_session_id"] == session_id]
    channels = channels[channels["ecephys_probe_id"].isin(probes.index)]
    units = units[units["ecephys_channel_id"].isin(channels.index)]
    area = units["ecephys_channel_id"].map(channels["ecephys_structure_acronym"])
    passing = ((units["amplitude_cutoff"] <= get_unit_filter_value("amplitude_cutoff_maximum"))
               & (units["presence_ratio"] >= get_unit_filter_value("presence_ratio_minimum"))
               & (units["isi_violations"] <= get_unit_filter_value("isi_violations_maximum")))
    keep = area.isin(list(cfg["area_drive"])) & passing
    units = units[keep].copy()

    shift = float(rng.uniform(-more["epoch_shift_s"], more["epoch_shift_s"]))
    scale = float(more["rate_scale"])
    session_cfg = {
        **cfg,
        "epochs": [{**e, "start_s": e["start_s"] + shift, "stop_s": e["stop_s"] + shift}
                   for e in cfg["epochs"]],
        "first_spontaneous_start_s": cfg["first_spontaneous_start_s"] + shift,
        "recording_end_s": cfg["recording_end_s"] + shift,
        "units": {**cfg["units"], "rate_median_hz": cfg["units"]["rate_median_hz"] * scale,
                  "visual_gain_median": cfg["units"]["visual_gain_median"] * scale,
                  "nonvisual_gain_median": cfg["units"]["nonvisual_gain_median"] * scale}}
    presentations = ecephys_synth.make_presentations(rng, session_cfg)
    times, amplitudes = ecephys_synth.make_spikes(rng, session_cfg, presentations, area[keep])
    duration = float(session_cfg["recording_end_s"])
    units["firing_rate"] = pd.Series({u: t.size / duration for u, t in times.items()}).round(3)
    running = ecephys_synth.make_running(rng, duration)
    metadata = {"session_start_time": more["session_start_time"],
                "rig_equipment_name": more["rig_equipment_name"], "invalid_times": []}
    return dict(session=sessions.loc[session_id], probes=probes, channels=channels,
                units=units, presentations=presentations, spike_times=times,
                spike_amplitudes=amplitudes, running=running, metadata=metadata)


def _one_session(anatomy, session_id: int):
    """The rows of ``anatomy`` (sessions, probes, presentations, channels, units) that
    belong to one session (presentations are the shipped session's: not needed)."""
    sessions, probes, _, channels, units = anatomy
    probes = probes[probes["ecephys_session_id"] == session_id]
    channels = channels[channels["ecephys_probe_id"].isin(probes.index)]
    units = units[units["ecephys_channel_id"].isin(channels.index)]
    return sessions.loc[[session_id]], probes, None, channels, units


def _build_session(target: Path, recipe: dict, session_id: int, anatomy, sample_sha: str
                   ) -> tuple[int, float]:
    """Generate and write one session into a temporary sibling of the sample folder,
    then rename it into place. Returns (session id, megabytes)."""
    from .ecephys_nwb import write_session

    work = target.parent / f"{target.name}.tmp-session{session_id}-{os.getpid()}"
    try:
        work.mkdir()
        (work / OWNER).write_text(f"{socket.gethostname()} {os.getpid()}")
        inputs = session_inputs(recipe, session_id, anatomy)
        nwb = work / f"session_{session_id}.nwb"
        _quiet(lambda: write_session(nwb, **inputs))
        inventory = {nwb.name: {"size": nwb.stat().st_size, "blake2b": blake2b_of(nwb)}}
        (work / SESSION_RECORD).write_text(json.dumps(
            {"session_id": session_id, "sample_sha256": sample_sha,
             "built": time.strftime("%Y-%m-%d %H:%M:%S"), "units": len(inputs["units"]),
             "spikes": int(sum(t.size for t in inputs["spike_times"].values())),
             "inventory": inventory}, indent=1))
        (work / OWNER).unlink()
        swap_into_place(work, _session_dir(target, session_id))
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return session_id, inventory[nwb.name]["size"] / 1e6


def ensure_more_sessions(ids="all", target: Path | None = None, force: bool = False,
                         progress: bool = True, hashes: bool = False,
                         recipe_path: Path = RECIPE_PATH,
                         metadata_dir: Path = METADATA_DIR) -> dict:
    """Build the sessions of ``ids`` ("all" or some of :func:`more_session_ids`) that are
    not built yet, or damaged, or built for another sample (all of them with ``force``).
    Damaged means a file missing or of another size; with ``hashes``, also one whose
    bytes changed (reads every byte: about 0.1 s a session). Builds the offline sample
    first if it needs it.

    Returns
    -------
    dict
        ``built`` (ids written now), ``seconds``, ``megabytes`` (their files),
        ``peak_megabytes`` (all build processes together), ``path`` (sample folder).
    """
    recipe = load_recipe(recipe_path)
    ids = checked_session_ids(ids, recipe)                 # before any slow work
    target = Path(target or sample_dir()).resolve()
    report = build_sample(target, recipe_path, metadata_dir, progress=progress)
    if report is not None and progress:
        print("\n".join(report.lines()))
    todo = [i for i in ids if force or session_problems(i, target, hashes)]
    result = {"built": [], "seconds": 0.0, "megabytes": 0.0, "peak_megabytes": 0.0,
              "path": str(target)}
    if not todo:
        return result
    for folder in remove_stale_temporaries(target):
        if progress:
            print(f"removed {folder.name}, left by a build that was stopped", flush=True)
    from tqdm.auto import tqdm

    started = time.perf_counter()
    sample_sha = read_marker(target)["source_sha256"]
    anatomy = ecephys_tables(recipe, metadata_dir)[1:]
    # each job gets its own session's rows only (the whole project's units are 99,180)
    jobs = [(target, recipe, i, _one_session(anatomy, i), sample_sha) for i in todo]
    del anatomy
    bar = tqdm(total=len(todo), desc="building Neuropixels sessions", unit="session",
               disable=not progress)
    try:
        with _PeakMemory() as memory, _jobs(min(build_workers(), len(todo))) as submit:
            futures = [submit(_build_session, job) for job in jobs]
            for future in futures:
                session_id, megabytes = future.get()
                result["built"].append(session_id)
                result["megabytes"] += megabytes
                bar.set_postfix_str(f"wrote session_{session_id}")
                bar.update(1)
    finally:
        bar.close()
    result.update(seconds=round(time.perf_counter() - started, 1),
                  megabytes=round(result["megabytes"], 1),
                  peak_megabytes=round(memory.peak / 1e6, 1))
    if progress:
        print(f"built {len(todo)} Neuropixels session(s) in {result['seconds']:.1f} s: "
              f"{result['megabytes']:.1f} MB, peak memory {result['peak_megabytes']:.0f} MB")
    return result
