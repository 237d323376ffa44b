"""Turn synthetic arrays into an Allen-format ``BehaviorOphysExperiment`` NWB file.

The experiment is assembled from AllenSDK's own data objects and written with its
``to_nwb()``, so ``VisualBehaviorOphysProjectCache`` reads it like a released file.
These constructors are not AllenSDK's public API: allensdk is pinned, and the tests
read every written file back through the cache.
"""
from __future__ import annotations

import ast
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from .nwb_writing import fast_table_writes, write_nwb
from .ophys_cells import PlaneCells
from .ophys_task import ChangeDetectionTask

STIMULUS_FRAME_RATE = 60.0


def _traces(name: str, values: np.ndarray, roi_ids: np.ndarray, **extra) -> pd.DataFrame:
    df = pd.DataFrame({name: list(values)}, index=pd.Index(roi_ids, name="cell_roi_id"))
    for key, value in extra.items():
        df[key] = value
    return df


def _cell_specimen_table(cells: PlaneCells, roi_ids, specimen_ids) -> pd.DataFrame:
    rows = []
    for mask, roi, specimen in zip(cells.roi_masks, roi_ids, specimen_ids):
        ys, xs = np.nonzero(mask)
        rows.append(dict(cell_specimen_id=int(specimen), cell_roi_id=int(roi),
                         height=int(np.ptp(ys) + 1), width=int(np.ptp(xs) + 1),
                         x=int(xs.min()), y=int(ys.min()), mask_image_plane=0,
                         max_correction_down=5.0, max_correction_left=7.0,
                         max_correction_right=4.0, max_correction_up=7.0,
                         valid_roi=True, roi_mask=mask))
    return pd.DataFrame(rows).set_index("cell_specimen_id")


def build_experiment(row: pd.Series, task: ChangeDetectionTask, cells: PlaneCells,
                     timestamps: np.ndarray, cell_ids: pd.DataFrame, templates, cfg: dict,
                     plane_group: int, group_count: int):
    """Assemble one ``BehaviorOphysExperiment``.

    Parameters
    ----------
    row : the experiment's row of the real ophys experiment table
    task : the session's shared stimulus and behaviour
    cells : the plane's synthetic cells
    timestamps : (n_frames,) the plane's frame times, s (its imaging plane group's clock)
    cell_ids : DataFrame with ``cell_roi_id`` and ``cell_specimen_id`` (real ids)
    templates : (warped, unwarped) lists from :func:`ophys_cells.image_templates`
    cfg : the recipe's ``[ophys]`` table
    plane_group, group_count : the plane's imaging plane group and the session's number of
        groups, written as AllenSDK writes mesoscope metadata (``MultiplaneMetadata``)
    """
    from allensdk.brain_observatory.behavior.behavior_ophys_experiment import (
        BehaviorOphysExperiment)
    from allensdk.brain_observatory.behavior.behavior_session import BehaviorSession
    from allensdk.brain_observatory.behavior.data_objects import (
        BehaviorSessionId, StimulusTimestamps)
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.cell_specimens import (  # noqa: E501
        CellSpecimenMeta, CellSpecimens)
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.events import Events
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.traces.corrected_fluorescence_traces import (  # noqa: E501
        CorrectedFluorescenceTraces)
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.traces.demixed_traces import (  # noqa: E501
        DemixedTraces)
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.traces.dff_traces import (  # noqa: E501
        DFFTraces)
    from allensdk.brain_observatory.behavior.data_objects.cell_specimens.traces.neuropil_traces import (  # noqa: E501
        NeuropilTraces)
    from allensdk.brain_observatory.behavior.data_objects.eye_tracking.eye_tracking_table import (  # noqa: E501
        EyeTrackingTable)
    from allensdk.brain_observatory.behavior.data_objects.licks import Licks
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.behavior_metadata import (  # noqa: E501
        BehaviorMetadata)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.behavior_session_uuid import (  # noqa: E501
        BehaviorSessionUUID)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.date_of_acquisition import (  # noqa: E501
        DateOfAcquisition, DateOfAcquisitionOphys)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.equipment import (  # noqa: E501
        Equipment)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.project_code import (  # noqa: E501
        ProjectCode)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.session_type import (  # noqa: E501
        SessionType)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_metadata.stimulus_frame_rate import (  # noqa: E501
        StimulusFrameRate)
    from allensdk.brain_observatory.behavior.data_objects.metadata.behavior_ophys_metadata import (  # noqa: E501
        BehaviorOphysMetadata)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.field_of_view_shape import (  # noqa: E501
        FieldOfViewShape)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.imaging_depth import (  # noqa: E501
        ImagingDepth)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.imaging_plane import (  # noqa: E501
        ImagingPlane)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.multi_plane_metadata.imaging_plane_group import (  # noqa: E501
        ImagingPlaneGroup)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.multi_plane_metadata.multi_plane_metadata import (  # noqa: E501
        MultiplaneMetadata)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.ophys_container_id import (  # noqa: E501
        OphysContainerId)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.ophys_project_code import (  # noqa: E501
        OphysProjectCode)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.ophys_session_id import (  # noqa: E501
        OphysSessionId)
    from allensdk.brain_observatory.behavior.data_objects.metadata.ophys_experiment_metadata.targeted_imaging_depth import (  # noqa: E501
        TargetedImagingDepth)
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.age import Age  # noqa: E501
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.driver_line import (  # noqa: E501
        DriverLine)
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.full_genotype import (  # noqa: E501
        FullGenotype)
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.mouse_id import (  # noqa: E501
        MouseId)
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.reporter_line import (  # noqa: E501
        ReporterLine)
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.sex import Sex  # noqa: E501
    from allensdk.brain_observatory.behavior.data_objects.metadata.subject_metadata.subject_metadata import (  # noqa: E501
        SubjectMetadata)
    from allensdk.brain_observatory.behavior.data_objects.motion_correction import (
        MotionCorrection)
    from allensdk.brain_observatory.behavior.data_objects.projections import Projections
    from allensdk.brain_observatory.behavior.data_objects.rewards import Rewards
    from allensdk.brain_observatory.behavior.data_objects.running_speed.running_acquisition import (  # noqa: E501
        RunningAcquisition)
    from allensdk.brain_observatory.behavior.data_objects.running_speed.running_speed import (  # noqa: E501
        RunningSpeed)
    from allensdk.brain_observatory.behavior.data_objects.stimuli.presentations import (
        Presentations)
    from allensdk.brain_observatory.behavior.data_objects.stimuli.stimuli import Stimuli
    from allensdk.brain_observatory.behavior.data_objects.stimuli.stimulus_templates import (  # noqa: E501
        StimulusTemplateFactory)
    from allensdk.brain_observatory.behavior.data_objects.stimuli.templates import Templates
    from allensdk.brain_observatory.behavior.data_objects.task_parameters import (
        StimulusDistribution, TaskParameters, TaskType)
    from allensdk.brain_observatory.behavior.data_objects.timestamps.ophys_timestamps import (  # noqa: E501
        OphysTimestamps)
    from allensdk.brain_observatory.behavior.data_objects.trials.trials import Trials
    from allensdk.brain_observatory.behavior.image_api import Image

    roi_ids = cell_ids["cell_roi_id"].to_numpy(np.int64)
    specimen_ids = cell_ids["cell_specimen_id"].to_numpy(np.int64)
    acquired = pd.Timestamp(row["date_of_acquisition"]).tz_localize("UTC").to_pydatetime()
    # Real files carry the nominal rate (11.0 Hz), not the measured one (10.73 Hz);
    # AllenSDK also filters the events with it.
    frame_rate = float(cfg["ophys_frame_rate_hz"])
    spacing = (cfg["pixel_size_um"], cfg["pixel_size_um"])
    fov = int(cfg["field_of_view_px"])
    stim_ts = task.stimulus_timestamps
    n_display = stim_ts.size

    imaging_plane = ImagingPlane(ophys_frame_rate=frame_rate,
                                 targeted_structure=row["targeted_structure"],
                                 excitation_lambda=910.0, indicator=row["indicator"])
    corrected = CorrectedFluorescenceTraces(_traces(
        "corrected_fluorescence", cells.corrected, roi_ids,
        RMSE=np.round(cells.noise_std * 300, 3), r=np.full(len(roi_ids), 0.7)))
    cell_specimens = CellSpecimens(
        cell_specimen_table=_cell_specimen_table(cells, roi_ids, specimen_ids),
        meta=CellSpecimenMeta(imaging_plane=imaging_plane),
        events=Events(events=cells.events,
                      events_meta=pd.DataFrame({"cell_roi_id": roi_ids,
                                                "lambda": cells.event_lambda,
                                                "noise_std": cells.noise_std}),
                      frame_rate_hz=frame_rate),
        ophys_timestamps=OphysTimestamps(timestamps),
        segmentation_mask_image_spacing=spacing,
        corrected_fluorescence_traces=corrected,
        dff_traces=DFFTraces(_traces("dff", cells.dff, roi_ids)),
        demixed_traces=DemixedTraces(_traces("demixed_trace", cells.demixed, roi_ids)),
        neuropil_traces=NeuropilTraces(_traces("neuropil_trace", cells.neuropil, roi_ids)))

    warped, unwarped = templates
    template_set = StimulusTemplateFactory.from_processed(
        image_set_name=cfg["image_set_name"],
        image_attributes=[dict(image_name=name) for name in task.image_names],
        unwarped=unwarped, warped=warped)

    subject = SubjectMetadata(
        sex=Sex(row["sex"]), age=Age(int(row["age_in_days"])),
        reporter_line=ReporterLine(row["reporter_line"]),
        full_genotype=FullGenotype(row["full_genotype"]),
        driver_line=DriverLine(ast.literal_eval(row["driver_line"])),
        mouse_id=MouseId(str(row["mouse_id"])))
    session_id = BehaviorSessionId(int(row["behavior_session_id"]))
    behavior_meta = BehaviorMetadata(
        date_of_acquisition=DateOfAcquisition(acquired), subject_metadata=subject,
        behavior_session_id=session_id, equipment=Equipment(row["equipment_name"]),
        stimulus_frame_rate=StimulusFrameRate(STIMULUS_FRAME_RATE),
        session_type=SessionType(row["session_type"]),
        behavior_session_uuid=BehaviorSessionUUID(uuid.UUID(int=int(row["behavior_session_id"]))),
        project_code=ProjectCode(row["project_code"]),
        session_duration=float(stim_ts[-1] - stim_ts[0]))
    ophys_meta = MultiplaneMetadata(
        imaging_plane_group=ImagingPlaneGroup(plane_group=int(plane_group),
                                              plane_group_count=int(group_count)),
        ophys_experiment_id=int(row["ophys_experiment_id"]),
        ophys_session_id=OphysSessionId(int(row["ophys_session_id"])),
        ophys_container_id=OphysContainerId(int(row["ophys_container_id"])),
        field_of_view_shape=FieldOfViewShape(height=fov, width=fov),
        imaging_depth=ImagingDepth(int(row["imaging_depth"])),
        targeted_imaging_depth=TargetedImagingDepth(int(row["targeted_imaging_depth"])),
        project_code=OphysProjectCode(row["project_code"]))
    task_parameters = TaskParameters(
        blank_duration_sec=[0.5, 0.5], stimulus_duration_sec=0.25,
        omitted_flash_fraction=float(cfg["omission_probability"]),
        response_window_sec=[0.15, 0.75], reward_volume=cfg["behavior"]["reward_volume_ml"],
        auto_reward_volume=0.005, session_type=row["session_type"], stimulus="images",
        stimulus_distribution=StimulusDistribution.GEOMETRIC,
        task_type=TaskType.CHANGE_DETECTION, n_stimulus_frames=n_display,
        stimulus_name=cfg["image_set_name"])
    trials = Trials(task.trials, response_window_start=0.15)
    eye = task.eye_tracking()
    speed = pd.DataFrame(dict(timestamps=stim_ts, speed=task.running_speed))
    acquisition = pd.DataFrame(
        dict(dx=np.round(task.running_speed / STIMULUS_FRAME_RATE / 0.1, 3),
             v_sig=np.round((np.cumsum(task.running_speed) % 500) / 100, 3),
             v_in=np.full(n_display, 4.9)),
        index=pd.Index(stim_ts, name="timestamps"))

    behavior_session = BehaviorSession(
        behavior_session_id=session_id,
        stimulus_timestamps=StimulusTimestamps(stim_ts, monitor_delay=task.monitor_delay),
        running_acquisition=RunningAcquisition(acquisition),
        raw_running_speed=RunningSpeed(speed, filtered=False),
        running_speed=RunningSpeed(speed),
        licks=Licks(task.licks), rewards=Rewards(task.rewards),
        stimuli=Stimuli(presentations=Presentations(task.presentations, trials=trials),
                        templates=Templates({cfg["image_set_name"]: template_set})),
        task_parameters=task_parameters, trials=trials, metadata=behavior_meta,
        date_of_acquisition=DateOfAcquisition(acquired),
        eye_tracking_table=None if eye is None else EyeTrackingTable(eye))
    return BehaviorOphysExperiment(
        behavior_session=behavior_session,
        projections=Projections(max_projection=Image(cells.max_projection, spacing, "mm"),
                                avg_projection=Image(cells.average_projection, spacing, "mm")),
        ophys_timestamps=OphysTimestamps(timestamps), cell_specimens=cell_specimens,
        metadata=BehaviorOphysMetadata(behavior_metadata=behavior_meta,
                                       ophys_metadata=ophys_meta),
        motion_correction=MotionCorrection(pd.DataFrame(cells.motion, columns=["x", "y"])),
        date_of_acquisition=DateOfAcquisitionOphys(acquired))


def write_experiment(path: Path, *args, **kwargs) -> None:
    """Build one experiment (see :func:`build_experiment`) and write it to ``path``."""
    with fast_table_writes():
        nwbfile = build_experiment(*args, **kwargs).to_nwb()
        write_nwb(nwbfile, path)
