"""Synthetic labeled datasets (contract section 3) with truth integrated on the head surface.

Each patient gets a head, a look and a hair-loss pattern; each visit a severity on the
patient's trajectory; each view a camera. Every random draw comes from a generator seeded by
``(seed, patient, visit, view)``, so the output is identical whatever the number of worker
processes and whichever subset of patients is made.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from autosalt.contract import TRUTH_COLUMNS, VIEWS
from autosalt.fileio import write_csv_atomic, write_jpeg_atomic, write_png_atomic, write_text_atomic
from autosalt.salt import salt_from_views
from autosalt.synth.camera import Camera
from autosalt.synth.head import Head, area_boundaries, integrate_views, surface_cells
from autosalt.synth.looks import Appearance, resolve_look
from autosalt.synth.patterns import (
    TRAJECTORIES,
    VISIT_WEEKS,
    LossPattern,
    random_pattern,
    severity_at,
    stratified_kind,
)
from autosalt.synth.render import render_view

_VIEW_INDEX = {view: index for index, view in enumerate(VIEWS)}


@dataclass(frozen=True)
class SynthOptions:
    """Knobs of the generator; the defaults are the training distribution."""

    size: tuple[int, int] = (512, 512)
    irregularity: float = 1.0  # head shape departure from an ellipsoid (robustness: 3)
    max_roll_deg: float = 6.0  # camera roll about its axis (robustness: 15)
    extra_tilt_deg: float = 0.0  # extra camera elevation/azimuth error, +- this (robustness: 15)
    frame_cut: bool = False  # let the head run out of the frame (robustness)
    occluders: bool = True  # clips and fingers
    pattern: str | None = None  # force one pattern kind
    stratify: bool = False  # deal pattern kinds in proportion to PATTERN_WEIGHTS (small sets)
    look: str = "default"  # photo look, one of looks.LOOKS (room, light, hair texture)


@dataclass
class Patient:
    head: Head
    appearance: Appearance
    pattern: LossPattern
    trajectory: str


def make_patient(seed: int, patient_index: int, options: SynthOptions) -> Patient:
    rng = np.random.default_rng([seed, patient_index])
    head = Head.random(rng, options.irregularity)
    appearance = Appearance.random(rng)
    kind = options.pattern or (stratified_kind(seed, patient_index) if options.stratify else None)
    pattern = random_pattern(rng, head, kind)
    trajectory = str(rng.choice(sorted(TRAJECTORIES)))
    return Patient(head, appearance, pattern, trajectory)


def random_camera(view: str, head: Head, rng: np.random.Generator, options: SynthOptions) -> Camera:
    """A clinic-like camera for a view: position, aim, roll, focal length, framing."""
    size = options.size
    a, b, c = head.semi_axes
    focal = max(size) * rng.uniform(0.9, 1.8)
    roll = float(np.clip(rng.normal(0, options.max_roll_deg / 2), -options.max_roll_deg,
                         options.max_roll_deg))
    if view == "top":
        azimuth, elevation = rng.uniform(-180, 180), rng.uniform(58, 88)
        target = np.array([0.0, rng.uniform(-1, 1), 0.35 * c])
        heading = rng.uniform(0, 2 * np.pi)
        up = np.array([np.sin(heading), np.cos(heading), 0.0])
        extent = 1.1 * b
    else:
        base = {"left": 90.0, "right": -90.0, "back": 180.0}[view]
        azimuth = base + rng.normal(0, 7 if view != "back" else 9)
        elevation = rng.uniform(-4, 22) if view != "back" else rng.uniform(0, 30)
        target = np.array([0.0, rng.uniform(-1.5, 1.5) if view != "back" else 0.0,
                           rng.uniform(0.5, 4.0)])
        up = np.array([0.0, 0.0, 1.0])
        extent = 0.9 * c + 2.0
    if options.extra_tilt_deg > 0:  # drawn only when asked: default datasets stay identical
        elevation += rng.uniform(-options.extra_tilt_deg, options.extra_tilt_deg)
        azimuth += rng.uniform(-options.extra_tilt_deg, options.extra_tilt_deg)
        if view == "top" and elevation > 90.0:  # tilted over the vertex: the other way round
            elevation, azimuth = 180.0 - elevation, azimuth + 180.0
    fill = rng.uniform(0.55, 0.9) if not options.frame_cut else rng.uniform(0.95, 1.35)
    distance = focal * 2 * extent / (fill * min(size))
    # Off-centre framing within what keeps the head in the frame (or not, for frame_cut).
    slack = max(0.0, (1 - fill) / 2) * extent * 2 / fill if not options.frame_cut else 0.25 * extent
    az, el = np.radians(azimuth), np.radians(elevation)
    direction = np.array([np.sin(az) * np.cos(el), np.cos(az) * np.cos(el), np.sin(el)])
    position = target + distance * direction
    forward = -direction
    side = np.cross(forward, up)
    side /= np.linalg.norm(side)
    vertical = np.cross(side, forward)
    target = target + side * rng.uniform(-0.5, 0.5) * slack + vertical * rng.uniform(-0.5, 0.5) * slack
    mirrored = view in ("left", "right") and rng.random() < 0.25
    return Camera.look_at(position, target, up, roll, focal, size, mirrored)


def visit_truth(patient: Patient, severity: float, resolution_deg: float = 0.5) -> dict[str, float]:
    """Per-view percent loss on the head surface (the contract's definition) for one visit."""
    cells = surface_cells(patient.head, resolution_deg)
    scalp = patient.head.is_scalp(cells.directions)
    points, areas, dirs = cells.points[scalp], cells.areas[scalp], cells.directions[scalp]
    boundaries = area_boundaries(points, areas)
    loss = patient.pattern.loss(dirs, patient.head, severity)
    return integrate_views(boundaries.area_index(points), loss, areas)


def patient_id(index: int) -> str:
    return f"P{index + 1:03d}"


def visit_id(week: int) -> str:
    return f"week{week:02d}"


def render_visit(out: Path, seed: int, patient_index: int, visit_index: int,
                 options: SynthOptions) -> dict:
    """Render and write one visit's four views; return its truth row."""
    patient = make_patient(seed, patient_index, options)
    week = VISIT_WEEKS[visit_index]
    severity = severity_at(patient.trajectory, week) if patient.pattern.kind != "none" else 0.0
    pid, vid = patient_id(patient_index), visit_id(week)
    cameras = {}
    # One look per visit (a photo session); the drawn looks (``mixed``, ``varied``, ``broad``)
    # draw it from the visit's own stream.
    look = resolve_look(options.look, np.random.default_rng([seed, patient_index, visit_index, 97]))
    for view in VIEWS:
        rng = np.random.default_rng([seed, patient_index, visit_index, _VIEW_INDEX[view]])
        camera = random_camera(view, patient.head, rng, options)
        photo, mask, loss = render_view(patient.head, patient.pattern, severity,
                                        patient.appearance, camera, rng, options.occluders,
                                        look)
        write_jpeg_atomic(out / "photos" / pid / vid / f"{view}.jpg", photo,
                          quality=int(rng.integers(55, 96)))
        write_png_atomic(out / "masks" / pid / vid / f"{view}.png", mask)
        write_png_atomic(out / "loss" / pid / vid / f"{view}.png", loss)
        cameras[view] = camera.to_dict()
    truth = visit_truth(patient, severity)
    meta = {"patient": pid, "visit": vid, "week": week, "severity": severity,
            "pattern": patient.pattern.kind, "trajectory": patient.trajectory,
            "head": {"semi_axes": list(patient.head.semi_axes),
                     "shape_coefficients": patient.head.shape_coefficients.tolist()},
            "cameras": cameras, "options": {k: v for k, v in options.__dict__.items()}}
    write_text_atomic(out / "meta" / pid / f"{vid}.json", json.dumps(meta, indent=1) + "\n")
    return {"patient": pid, "visit": vid, "week": week, "salt": salt_from_views(truth),
            **truth, "pattern": patient.pattern.kind}


def _render_task(arguments) -> dict:
    return render_visit(*arguments)


def generate(out: str | os.PathLike, patients: int, visits: int, seed: int,
             options: SynthOptions = SynthOptions(), workers: int | None = None,
             progress: bool = True) -> list[dict]:
    """Write a synthetic labeled dataset to ``out``; returns the truth rows (also truth.csv)."""
    if patients < 1 or not 1 <= visits <= len(VISIT_WEEKS):
        raise ValueError(f"need patients >= 1 and 1 <= visits <= {len(VISIT_WEEKS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tasks = [(out, seed, p, v, options) for p in range(patients) for v in range(visits)]
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    from tqdm import tqdm

    bar = tqdm(total=len(tasks), desc="synth visits", unit="visit", disable=not progress)
    rows: list[dict] = []
    if workers <= 1:
        for task in tasks:
            rows.append(_render_task(task))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(_render_task, tasks, chunksize=1):
                rows.append(row)
                bar.update()
    bar.close()
    write_csv_atomic(out / "truth.csv", rows, TRUTH_COLUMNS)
    return rows
