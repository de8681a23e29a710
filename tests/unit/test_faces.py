"""The face check on real photographs (scikit-image's bundled samples): one face is one, two are two, a cup, a
cat and a landscape are none; the sandbox's selfies all pass; the upload rule refuses with the right codes."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps
from skimage import data

from rules.faces import count_faces, find_faces
from rules.images import ImageRejected
from rules.uploads import MIN_SIDE, normalise_upload
from sandbox.selfies import no_face, selfie, small_selfie, two_faces


def _astronaut() -> Image.Image:
    return Image.fromarray(data.astronaut())


def _side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    pair = Image.new("RGB", (left.width + right.width, max(left.height, right.height)))
    pair.paste(left, (0, 0))
    pair.paste(right, (left.width, 0))
    return pair


def _decoded(jpeg: bytes) -> Image.Image:
    with Image.open(io.BytesIO(jpeg)) as image:
        return image.convert("RGB")


ONE_FACE = {
    "astronaut": lambda: _astronaut(),
    "mirrored": lambda: ImageOps.mirror(_astronaut()),
    "head and shoulders": lambda: _astronaut().crop((110, 0, 350, 300)),
    "colour-shifted": lambda: Image.fromarray(np.asarray(_astronaut())[:, :, ::-1].copy()),
    "desaturated and dark": lambda: ImageEnhance.Brightness(
        ImageEnhance.Color(_astronaut()).enhance(0.2)).enhance(0.7),
    "scaled up to 2000 px": lambda: _astronaut().resize((2000, 2000)),
    "scaled down to 300 px": lambda: _astronaut().resize((300, 300)),
    "greyscale": lambda: _astronaut().convert("L"),
}

NO_FACE = {
    "coffee": lambda: Image.fromarray(data.coffee()),
    "cat": lambda: Image.fromarray(data.chelsea()),
    "rocket": lambda: Image.fromarray(data.rocket()),
    "landscape": lambda: _decoded(no_face(2)),
    "plain grey": lambda: Image.new("RGB", (640, 480), (128, 128, 128)),
}


@pytest.mark.parametrize("name", ONE_FACE)
def test_one_person_is_one_face(name: str) -> None:
    assert count_faces(ONE_FACE[name]()) == 1


@pytest.mark.parametrize("name", NO_FACE)
def test_no_person_is_no_face(name: str) -> None:
    assert count_faces(NO_FACE[name]()) == 0


def test_two_people_side_by_side_are_two_faces() -> None:
    assert count_faces(_side_by_side(_astronaut(), ImageOps.mirror(_astronaut()))) == 2
    assert count_faces(_decoded(two_faces(7))) == 2


def test_faces_are_located_in_the_given_images_pixels() -> None:
    big = _astronaut().resize((1536, 1536))  # detected at 640 px, reported at 1536 px
    [face] = find_faces(big)
    centre_x, centre_y = face.x + face.width / 2, face.y + face.height / 2
    assert 600 < centre_x < 750 and 250 < centre_y < 450  # the astronaut's face, x3
    assert 200 < face.width < 400


def test_every_sandbox_selfie_passes_the_upload_check_and_they_are_distinct() -> None:
    digests = set()
    for seed in range(201):
        normalised = normalise_upload(selfie(seed))  # raises ImageRejected if the check refused it
        assert min(normalised.width, normalised.height) >= MIN_SIDE
        digests.add(normalised.sha256)
    assert len(digests) == 201


@pytest.mark.parametrize(("make", "code"), [
    (lambda: no_face(0), "NO_FACE"),
    (lambda: no_face(1), "NO_FACE"),
    (lambda: no_face(2), "NO_FACE"),
    (lambda: two_faces(0), "MANY_FACES"),
    (lambda: small_selfie(0), "IMAGE_TOO_SMALL"),
])
def test_the_upload_rule_refuses_with_its_code(make, code: str) -> None:
    with pytest.raises(ImageRejected) as refused:
        normalise_upload(make())
    assert refused.value.code == code


def test_a_one_pixel_image_is_too_small_not_faceless() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, "PNG")
    with pytest.raises(ImageRejected) as refused:
        normalise_upload(buffer.getvalue())
    assert refused.value.code == "IMAGE_TOO_SMALL"


def test_counting_from_many_threads_at_once_gives_the_same_answers() -> None:
    images = [(_decoded(selfie(seed)), 1) for seed in range(6)] + [(_decoded(two_faces(1)), 2),
                                                                   (_decoded(no_face(0)), 0)]
    wrong: list[tuple[int, int]] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        for _ in range(3):
            wrong.extend((expected, got) for image, expected in images
                         if (got := count_faces(image)) != expected)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
