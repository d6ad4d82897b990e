"""The generator: deterministic, and its truth agrees with an independent surface estimate."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from autosalt.contract import CLASS_HAIR, CLASS_IGNORE, VIEWS
from autosalt.fileio import read_mask, read_photo
from autosalt.layout import scan_labeled_folder
from autosalt.synth.generate import SynthOptions, generate, make_patient, visit_truth
from autosalt.synth.head import area_boundaries, surface_cells
from autosalt.synth.patterns import PATTERN_WEIGHTS, random_pattern, stratified_kind


def _monte_carlo_truth(patient, severity, samples=400_000, seed=0):
    """Independent estimate: uniform random directions, weighted by the area Jacobian.

    For a star-shaped surface p(u) = r(u) u, dA = r^2 / (u . n) dOmega; no grid, no quads.
    The area boundaries are the contract's (top 40% / back 24% of the scalp area), found
    again from these samples.
    """
    head = patient.head
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(samples, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    scalp = head.is_scalp(directions)
    directions = directions[scalp]
    points = directions * head.radius(directions)[:, None]
    normals = head.normals(points)
    weights = head.radius(directions) ** 2 / np.einsum("ij,ij->i", directions, normals)
    boundaries = area_boundaries(points, weights)
    index = boundaries.area_index(points)
    loss = patient.pattern.loss(directions, head, severity)
    return {view: 100 * float((loss * weights)[index == i].sum() / weights[index == i].sum())
            for i, view in enumerate(VIEWS)}


@pytest.mark.parametrize("kind", ["ophiasis", "multi_patch", "diffuse", "hairline_patch"])
def test_truth_matches_independent_surface_sampling(kind):
    options = SynthOptions(pattern=kind)
    patient = make_patient(seed=77, patient_index=3, options=options)
    exact = visit_truth(patient, severity=1.0)
    estimate = _monte_carlo_truth(patient, severity=1.0)
    for view in VIEWS:
        assert exact[view] == pytest.approx(estimate[view], abs=0.5), (view, exact, estimate)
    assert max(exact.values()) > 1.0  # the pattern really has loss


def test_area_boundaries_give_contract_shares():
    patient = make_patient(seed=5, patient_index=0, options=SynthOptions())
    cells = surface_cells(patient.head)
    scalp = patient.head.is_scalp(cells.directions)
    points, areas = cells.points[scalp], cells.areas[scalp]
    index = area_boundaries(points, areas).area_index(points)
    shares = [areas[index == i].sum() / areas.sum() for i in range(4)]
    assert shares == pytest.approx([0.40, 0.18, 0.18, 0.24], abs=0.01)


def test_every_pattern_can_be_drawn():
    patient = make_patient(seed=1, patient_index=0, options=SynthOptions())
    rng = np.random.default_rng(0)
    for kind in PATTERN_WEIGHTS:
        pattern = random_pattern(rng, patient.head, kind)
        loss = pattern.loss(np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]), patient.head, 1.0)
        assert loss.shape == (2,) and np.all((loss >= 0) & (loss <= 1))
    with pytest.raises(ValueError, match="unknown pattern"):
        random_pattern(rng, patient.head, "spots")


def test_stratified_patterns_keep_every_prefix_in_proportion():
    total = sum(PATTERN_WEIGHTS.values())
    for seed in (0, 4000):
        kinds = [stratified_kind(seed, index) for index in range(60)]
        for count in (10, 25, 60):
            for name, weight in PATTERN_WEIGHTS.items():
                expected = count * weight / total
                assert abs(kinds[:count].count(name) - expected) <= 1.0, (seed, count, name)
    assert [stratified_kind(1, i) for i in range(12)] != [stratified_kind(2, i) for i in range(12)]
    # Independent draws, by contrast, leave a small set's mix to chance.
    drawn = [make_patient(4000, i, SynthOptions()).pattern.kind for i in range(25)]
    dealt = [make_patient(4000, i, SynthOptions(stratify=True)).pattern.kind for i in range(25)]
    assert dealt == [stratified_kind(4000, i) for i in range(25)]
    assert drawn.count("diffuse") != dealt.count("diffuse")


def test_generator_is_deterministic_and_writes_the_contract(tmp_path):
    options = SynthOptions(size=(96, 96))
    rows_a = generate(tmp_path / "a", patients=2, visits=2, seed=11, options=options, workers=1,
                      progress=False)
    rows_b = generate(tmp_path / "b", patients=2, visits=2, seed=11, options=options, workers=2,
                      progress=False)
    assert rows_a == rows_b
    for sub in ("photos", "masks", "loss"):
        files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / sub).rglob("*.*"))
        assert len(files_a) == 2 * 2 * 4
        for relative in files_a:
            assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
    header = (tmp_path / "a" / "truth.csv").read_text().splitlines()[0]
    assert header == "patient,visit,week,salt,top,left,right,back,pattern"
    scan = scan_labeled_folder(tmp_path / "a")
    assert [v.key for v in scan.visits] == [("P001", "week00"), ("P001", "week04"),
                                           ("P002", "week00"), ("P002", "week04")]
    other = generate(tmp_path / "c", patients=1, visits=1, seed=12, options=options, workers=1,
                     progress=False)
    assert other[0] != rows_a[0]


def _render_plain_and(look: str, root: Path, seed: int) -> None:
    """One visit in the default look (``root/plain``) and in ``look`` (``root/<look>``)."""
    plain, other = (generate(root / name, patients=1, visits=1, seed=seed, workers=1, progress=False,
                             options=SynthOptions(size=(96, 96), look=name if name != "plain" else "default"))
                    for name in ("plain", look))
    assert plain == other  # the truth lives on the head, whatever the photo looks like


def test_drape_look_changes_the_photos_not_the_truth(tmp_path):
    _render_plain_and("drape", tmp_path, seed=21)
    photo = read_photo(tmp_path / "drape" / "photos" / "P001" / "week00" / "back.jpg").astype(float)
    mask = read_mask(tmp_path / "drape" / "masks" / "P001" / "week00" / "back.png")
    backdrop = photo[mask == 0]
    assert backdrop[:, 1].mean() > 1.3 * backdrop[:, 0].mean()  # the teal drape behind the head
    assert (photo != read_photo(tmp_path / "plain" / "photos" / "P001" / "week00" / "back.jpg")).any()


def test_coily_look_changes_the_hair_and_the_room_not_the_truth(tmp_path):
    _render_plain_and("coily", tmp_path, seed=22)
    relative = Path("P001") / "week00" / "top.jpg"
    assert (read_photo(tmp_path / "plain" / "photos" / relative)
            != read_photo(tmp_path / "coily" / "photos" / relative)).any()
    # Coiled hair has no direction to follow: the structure tensor of the curl texture is
    # nearly isotropic, where straight strands along one angle are strongly oriented.
    from autosalt.synth.textures import curl_texture, strand_texture

    def coherence(texture):
        gx = cv2.Sobel(texture, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(texture, cv2.CV_32F, 0, 1)
        jxx, jyy, jxy = (gx * gx).mean(), (gy * gy).mean(), (gx * gy).mean()
        return np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy)

    rng = np.random.default_rng(3)
    curls = curl_texture(rng, (160, 160), scale=6.0)
    strands = strand_texture(rng, np.full((160, 160), 0.7, np.float32), (160, 160), 9)
    assert curls.min() >= 0 and curls.max() <= 1
    assert coherence(curls) < 0.15 < 0.5 < coherence(strands)


def test_studio_look_crops_the_hair_and_darkens_the_room_not_the_truth(tmp_path):
    _render_plain_and("studio", tmp_path, seed=23)
    for view in ("top", "back"):
        photo = read_photo(tmp_path / "studio" / "photos" / "P001" / "week00" / f"{view}.jpg")
        mask = read_mask(tmp_path / "studio" / "masks" / "P001" / "week00" / f"{view}.png")
        plain_photo = read_photo(tmp_path / "plain" / "photos" / "P001" / "week00" / f"{view}.jpg")
        assert photo[mask == 0].mean() < 0.5 * plain_photo[mask == 0].mean()  # dark backdrop
        # Cropped hair does not stand out beyond the silhouette: far fewer "ignore" pixels.
        plain_mask = read_mask(tmp_path / "plain" / "masks" / "P001" / "week00" / f"{view}.png")
        assert (mask == CLASS_IGNORE).sum() <= 0.5 * (plain_mask == CLASS_IGNORE).sum() + 5
    from autosalt.synth.textures import stubble_texture
    stubble = stubble_texture(np.random.default_rng(4), (160, 160), 5)
    assert stubble.min() >= 0 and stubble.max() <= 1 and stubble.std() > 0.05


@pytest.mark.parametrize("name, seed", [("mixed", 24), ("varied", 25), ("broad", 26)])
def test_drawn_looks_draw_one_look_per_visit_from_their_parts_never_studio(tmp_path, name, seed):
    from autosalt.synth import looks, textures

    _render_plain_and(name, tmp_path, seed=seed)  # same truth as the default look
    studio = looks.LOOK_STYLES["studio"]
    parts = {"light", "background", "hair", "grade"}
    drawn = [looks.DRAWN_LOOKS[name](np.random.default_rng(seed)) for seed in range(300)]
    for look in drawn:
        assert all(getattr(look, part) is not getattr(studio, part) for part in parts - {"grade"})
        assert look.grade is None or look.grade is not studio.grade
        if look.hair is textures.short_hair:  # short hair: little volume or clumping, thinner cover
            for setting, (low, high) in looks.SHORT_HAIR_RANGES.items():
                assert low <= getattr(look, setting) <= high
            assert look.clumping < 0.4 and look.volume < 0.3 and look.density < 1
        else:
            assert 0.3 <= look.clumping <= 1.0 and 0.3 <= look.volume <= 1.0
            assert look.density == 1.0
    new_parts = {"light": {looks._window_backlight},
                 "background": {looks._blurred_room_background, looks._tiled_background},
                 "hair": {textures.wavy_hair}, "grade": {looks._phone_hdr_grade, looks._dim_grade}}
    if name == "broad":
        new_parts["hair"] = {textures.wavy_hair, textures.short_hair}
    for part in parts:  # every part is drawn, so the combinations really vary
        trained = {getattr(looks.LOOK_STYLES[look], part) for look in ("default", "drape", "coily")}
        expected = trained | new_parts[part] if name != "mixed" else trained
        assert {getattr(look, part) for look in drawn} == expected
    with pytest.raises(ValueError, match=name):
        looks.resolve_look(name)
    with pytest.raises(ValueError, match="unknown look 'glossy'"):
        looks.resolve_look("glossy")


def test_mixed_look_is_unchanged_so_earlier_training_data_renders_again():
    from autosalt.synth import looks, textures

    look = looks.mixed_look(np.random.default_rng(1))  # as drawn before ``varied`` existed
    assert (look.light, look.background, look.hair, look.grade) == (
        looks._ring_flash, looks._wallpaper_background, textures.straight_hair,
        looks._lamp_lighting)
    assert (round(look.clumping, 4), round(look.volume, 4)) == (0.5183, 0.5963)


def test_varied_look_is_unchanged_by_the_broad_family():
    from autosalt.synth import looks, textures

    look = looks.varied_look(np.random.default_rng(1))  # as drawn before ``broad`` existed
    assert (look.light, look.background, look.hair, look.grade) == (
        looks._ring_flash, looks._tiled_background, textures.straight_hair, looks._dim_grade)
    assert (round(look.clumping, 4), round(look.volume, 4), look.density) == (0.5183, 0.5963, 1.0)


def test_short_look_changes_the_photos_not_the_truth(tmp_path):
    from autosalt.synth import looks

    short = looks.LOOK_STYLES["short"]
    for setting, (low, high) in looks.SHORT_HAIR_RANGES.items():  # within broad's short hair
        assert low <= getattr(short, setting) <= high
    _render_plain_and("short", tmp_path, seed=27)
    for view in ("top", "back"):
        mask = read_mask(tmp_path / "short" / "masks" / "P001" / "week00" / f"{view}.png")
        plain_mask = read_mask(tmp_path / "plain" / "masks" / "P001" / "week00" / f"{view}.png")
        assert (mask == CLASS_IGNORE).sum() <= 0.5 * (plain_mask == CLASS_IGNORE).sum() + 5


def test_short_hairs_thinner_cover_shows_more_scalp_with_the_same_truth():
    from dataclasses import replace

    from autosalt.synth import looks, render
    from autosalt.synth.generate import random_camera

    patient = make_patient(31, 0, SynthOptions(size=(128, 128)))
    # Same texture, so the random draws after the hair (shadows, camera) match: only the cover.
    long_hair = looks.Look()
    short_hair = replace(long_hair, density=0.6)
    bare = replace(long_hair, density=0.0)  # the same scalp under the same light, no hair drawn
    photos, truths = {}, {}
    for name, look in (("long", long_hair), ("short", short_hair), ("bare", bare)):
        rng = np.random.default_rng(7)
        camera = random_camera("top", patient.head, rng, SynthOptions(size=(128, 128)))
        photos[name], *truths[name] = render.render_view(patient.head, patient.pattern, 0.0,
                                                         patient.appearance, camera, rng, False, look)
    (mask, loss), (short_mask, short_loss) = truths["long"], truths["short"]
    assert np.array_equal(loss, short_loss) and (mask == CLASS_HAIR).sum() > 500
    hair = (mask == CLASS_HAIR) & (short_mask == CLASS_HAIR)
    skin = photos["bare"][hair].astype(np.float32)
    distance = {name: np.abs(photos[name][hair].astype(np.float32) - skin).sum(axis=1).mean()
                for name in ("long", "short")}
    assert distance["short"] < 0.9 * distance["long"]  # more of the scalp's skin shows through


def test_varied_looks_new_parts_stay_in_range():
    from autosalt.synth import looks, textures

    rng = np.random.default_rng(5)
    size = (96, 128)
    for background in (looks._blurred_room_background, looks._tiled_background):
        image = background(rng, size)
        assert image.shape == size + (3,) and image.min() >= 0 and image.max() <= 1
        assert image.std() > 0.01  # not a flat wall
    scene = np.clip(rng.random(size + (3,)).astype(np.float32), 0, 1)
    hdr, dim = looks._phone_hdr_grade(scene, rng), looks._dim_grade(scene, rng)
    assert np.isfinite(hdr).all() and np.isfinite(dim).all()
    dark = scene * 0.1  # HDR lifts the shadows; a dim room darkens the photo
    assert looks._phone_hdr_grade(dark, rng).mean() > dark.mean()
    assert dim.mean() < 0.85 * scene.mean()
    angle = np.full(size, 0.7, np.float32)
    wavy, gaps = textures.wavy_hair(rng, angle, 9)
    assert gaps is None and wavy.shape == size and 0 <= wavy.min() and wavy.max() <= 1
    strands, gaps = textures.short_hair(np.random.default_rng(3), np.full((96, 96), 0.4, np.float32), 9)
    assert strands.shape == gaps.shape == (96, 96) and 0 <= strands.min() and strands.max() <= 1
    assert strands.std() > 0.05


def test_diffuse_thinning_removes_hairs_rather_than_fading_them():
    # Thinning must look unlike naturally fine hair (which is evenly translucent): at a loss
    # of one half, most pixels keep their hair or show bare scalp, and the mean still halves.
    from autosalt.synth.textures import thinning_factor

    rng = np.random.default_rng(4)
    angle = np.full((160, 160), 0.7, np.float32)
    for level in (0.25, 0.5):
        loss = np.full((160, 160), level, np.float32)
        coverage = (1.0 - loss) * thinning_factor(rng, angle, loss, strand_length=7)
        assert abs(coverage.mean() - (1.0 - level)) < 0.05
        assert np.mean((coverage < 0.15) | (coverage > 0.85)) > 0.6
    # No loss: untouched; patches (loss near 1): evenly bare, no stray full-density pixels.
    assert np.allclose(thinning_factor(rng, angle, np.zeros((160, 160), np.float32), 7), 1.0)
    bald = np.full((160, 160), 0.95, np.float32)
    assert np.all((1.0 - bald) * thinning_factor(rng, angle, bald, 7) <= 0.051)
