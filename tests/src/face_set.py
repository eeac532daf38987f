# Makes the face fairness set (issue 18): kiosk frames of real people, each placed the way the
# kiosk's camera sees an applicant (640 x 480, before a plain light wall), in compliant and
# failing kinds, and writes manifest.json beside them.
#
# Usage: face_set.py OUT_DIR ASTRONAUT_PNG FACE_RECOGNITION_TEST_IMAGES_DIR
#
# Real photographs: scikit-image's astronaut.png (NASA, public domain) and the test images of
# PyPI's face_recognition 1.3.0 source package (MIT; White House photographs). Each person's
# skin tone is measured on the compliant frame (the cheeks' median colour in CIELAB: the nearest
# Monk Skin Tone swatch, and the individual typology angle ITA). Every person is also re-toned
# to each of the ten Monk tones (skin pixels only, in linear light, so shading and highlights
# keep their shape); these are marked synthetic in the manifest and never stand alone.
import json
import math
import os
import sys

import numpy as np
from PIL import Image, ImageFilter

OUT, ASTRONAUT, FR_IMAGES = sys.argv[1], sys.argv[2], sys.argv[3]
WIDTH, HEIGHT = 640, 480
WALL = np.array([214.0, 209.0, 201.0])

# Eye centres measured by eye on each photograph (left, right as seen), in its pixels.
PEOPLE = [
    ("astronaut", ASTRONAUT, (203, 99), (246, 103)),
    ("obama", os.path.join(FR_IMAGES, "obama.jpg"), (443, 212), (547, 212)),
    ("obama2", os.path.join(FR_IMAGES, "obama2.jpg"), (253, 370), (362, 378)),
    ("obama3", os.path.join(FR_IMAGES, "obama3.jpg"), (735, 385), (855, 393)),
    ("biden", os.path.join(FR_IMAGES, "biden.jpg"), (529, 325), (654, 348)),
]

# The Monk Skin Tone scale's ten swatches (Google, CC BY 4.0), sRGB.
MONK = ["f6ede4", "f3e7db", "f7ead0", "eadaba", "d7bd96", "a07e56", "825c43", "604134", "3a312a", "292420"]


def to_linear(srgb):
    c = np.asarray(srgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def to_srgb(linear):
    c = np.clip(linear, 0.0, 1.0)
    return 255.0 * np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)


def lab(srgb):
    lin = to_linear(srgb)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


MONK_RGB = np.array([[int(h[i:i + 2], 16) for i in (0, 2, 4)] for h in MONK], dtype=np.float64)
MONK_LAB = lab(MONK_RGB)
# The set's exposure: a re-toned cheek reflects this share of its swatch's light, so the
# lightest skin sits a little below the wall (as a kiosk exposed for the wall shows it).
EXPOSURE = 0.7


def affine(src_left, src_right, dst_mid, distance, roll):
    """PIL's inverse map (frame -> photo) putting the eyes `distance` apart at `dst_mid`,
    the eye line turned by `roll` degrees."""
    (lx, ly), (rx, ry) = src_left, src_right
    src_angle = math.atan2(ry - ly, rx - lx)
    scale = math.hypot(rx - lx, ry - ly) / distance
    angle = src_angle - math.radians(roll)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    smx, smy = (lx + rx) / 2, (ly + ry) / 2
    dmx, dmy = dst_mid
    # photo = mid_src + R(angle) * scale * (frame - mid_dst)
    return (cos, -sin, smx - cos * dmx + sin * dmy, sin, cos, smy - sin * dmx - cos * dmy)


def person_mask(mid, distance, roll):
    """Head (an ellipse round the eyes), neck and shoulders, feathered: what of the photo
    stands before the wall."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    mx, my = mid
    angle = math.radians(roll)
    # Coordinates in the head's own frame (eye line horizontal).
    u = (xs - mx) * math.cos(angle) + (ys - my) * math.sin(angle)
    v = -(xs - mx) * math.sin(angle) + (ys - my) * math.cos(angle)
    d = distance
    head = (u / (1.3 * d)) ** 2 + ((v + 0.1 * d) / (1.75 * d)) ** 2 <= 1.0
    neck = (np.abs(u) <= 0.75 * d) & (v >= 0.9 * d)
    below = np.clip((v - 2.1 * d) / (0.6 * d), 0.0, 1.0)
    shoulders = (v >= 2.1 * d) & (np.abs(u) <= 0.9 * d + 2.6 * d * below)
    mask = (head | neck | shoulders).astype(np.float64)
    soft = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(max(1.0, 0.03 * d)))
    return np.asarray(soft, dtype=np.float64) / 255.0


def wall(seed, busy=None):
    rng = np.random.default_rng(seed)
    shade = np.linspace(1.03, 0.97, HEIGHT)[:, None, None]
    background = WALL[None, None, :] * shade + rng.normal(0.0, 1.5, (HEIGHT, WIDTH, 1))
    background = np.broadcast_to(background, (HEIGHT, WIDTH, 3)).copy()
    if busy is not None:
        background = busy
    return background


def cheeks(image, left, right, distance):
    """Median colour of both cheeks (below each eye, clear of the nose)."""
    patches = []
    half = max(2, int(0.14 * distance))
    for (x, y) in (left, right):
        cx, cy = int(round(x)), int(round(y + 0.55 * distance))
        patches.append(image[cy - half:cy + half, cx - half:cx + half].reshape(-1, 3))
    return np.median(np.concatenate(patches), axis=0)


def skin_tone(rgb):
    """The Monk swatch (1-10) nearest in CIELAB lightness, and the ITA in degrees, of a cheek
    colour seen at the set's exposure."""
    l, a, b = lab(to_srgb(to_linear(rgb) / EXPOSURE))
    # By lightness: a photo's cheeks are more saturated than the printed swatches, and the
    # scale's tones differ above all in lightness.
    monk = int(np.argmin(np.abs(MONK_LAB[:, 0] - l))) + 1
    ita = math.degrees(math.atan2(l - 50.0, b))
    return monk, ita


def skin_mask(photo, left, right):
    """Where the photo's skin is: near the cheeks' colour in CIELAB, inside the head, less the
    eyes (eyes keep their colour whatever the skin's tone)."""
    distance = math.hypot(right[0] - left[0], right[1] - left[1])
    reference = cheeks(photo, left, right, distance)
    ref_lab = lab(reference)
    pixels_lab = lab(photo)
    chroma = np.hypot(pixels_lab[..., 1] - ref_lab[1], pixels_lab[..., 2] - ref_lab[2])
    lightness = pixels_lab[..., 0] - ref_lab[0]
    skin = np.exp(-(chroma / 22.0) ** 2) * np.clip((lightness + 40.0) / 10.0, 0, 1) * np.clip((40.0 - lightness) / 10.0, 0, 1)
    # Close small holes (pores, specular spots, stubble) so the skin is re-toned as one.
    size = max(3, int(distance / 20) | 1)
    closed = Image.fromarray((np.clip(skin, 0, 1) * 255).astype(np.uint8)).filter(ImageFilter.MaxFilter(size)).filter(ImageFilter.MinFilter(size))
    ys, xs = np.mgrid[0:photo.shape[0], 0:photo.shape[1]].astype(np.float64)
    mx, my = (left[0] + right[0]) / 2, (left[1] + right[1]) / 2
    head = ((xs - mx) / (1.45 * distance)) ** 2 + ((ys - my - 0.5 * distance) / (2.6 * distance)) ** 2 <= 1.0
    skin = np.asarray(closed, dtype=np.float64) / 255.0 * head
    for (x, y) in (left, right):
        eye = ((xs - x) / (0.17 * distance)) ** 2 + ((ys - y) / (0.08 * distance)) ** 2 <= 1.0
        skin = skin * ~eye
    soft = Image.fromarray((skin * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5))
    return np.asarray(soft, dtype=np.float64)[..., None] / 255.0, reference


def retone(photo, mask, reference, target):
    """The photo with its skin (`mask`) re-toned so the cheeks take `target` (sRGB): each skin
    pixel is scaled in linear light, so shading and highlights keep their shape."""
    gain = EXPOSURE * to_linear(target) / np.maximum(to_linear(reference), 1e-4)
    linear = to_linear(photo)
    # Light well above the cheeks' own is mostly reflected off the skin's surface (highlights),
    # which pigment does not change: that share of each pixel keeps its light.
    luminance = linear @ np.array([0.2126, 0.7152, 0.0722])
    knee = 1.3 * float(to_linear(reference) @ np.array([0.2126, 0.7152, 0.0722]))
    diffuse = np.minimum(1.0, knee / np.maximum(luminance, 1e-6))[..., None]
    skin = linear * (diffuse * gain[None, None, :] + (1.0 - diffuse))
    return to_srgb(linear * (1.0 - mask) + skin * mask)


def crop(photo, left, right):
    """The part of the photo a frame can show (head and shoulders), and the eyes in it."""
    distance = math.hypot(right[0] - left[0], right[1] - left[1])
    mx, my = (left[0] + right[0]) / 2, (left[1] + right[1]) / 2
    x0, y0 = max(0, int(mx - 3.4 * distance)), max(0, int(my - 2.8 * distance))
    x1 = min(photo.shape[1], int(mx + 3.4 * distance))
    y1 = min(photo.shape[0], int(my + 4.4 * distance))
    return photo[y0:y1, x0:x1], (left[0] - x0, left[1] - y0), (right[0] - x0, right[1] - y0)


def compose(photo, left, right, distance, mid, roll=0.0, seed=0, busy=None):
    """A kiosk frame: the person placed with eyes `distance` apart at `mid`, before the wall."""
    image = Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))
    coefficients = affine(left, right, mid, distance, roll)
    placed = np.asarray(image.transform((WIDTH, HEIGHT), Image.AFFINE, coefficients, resample=Image.BICUBIC),
                        dtype=np.float64)
    alpha = person_mask(mid, distance, roll)[..., None]
    frame = placed * alpha + wall(seed, busy) * (1.0 - alpha)
    return frame


def eyes_in_frame(mid, distance, roll):
    angle = math.radians(roll)
    dx, dy = 0.5 * distance * math.cos(angle), 0.5 * distance * math.sin(angle)
    return [[mid[0] - dx, mid[1] - dy], [mid[0] + dx, mid[1] + dy]]


def save(frame, name):
    # JPEG, as a kiosk camera sends MJPEG (and a tenth the size of PNG).
    Image.fromarray(np.clip(np.round(frame), 0, 255).astype(np.uint8)).save(os.path.join(OUT, name), quality=92)


def main():
    manifest = []
    centre = (WIDTH / 2, 0.45 * HEIGHT)
    for index, (person, path, left, right) in enumerate(PEOPLE):
        photo = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)
        photo, left, right = crop(photo, left, right)
        mask, reference = skin_mask(photo, left, right)
        # The real photograph, then every Monk tone made from it.
        versions = [("real", None)] + [(f"monk{tone}", MONK_RGB[tone - 1]) for tone in range(1, 11)]
        for version, target in versions:
            source = photo if target is None else retone(photo, mask, reference, target)
            stem = f"{person}-{version}"
            base = compose(source, left, right, 125.0, centre, seed=index)
            tone, ita = skin_tone(cheeks(base, *eyes_in_frame(centre, 125.0, 0.0), 125.0))
            entry = {"person": person, "synthetic": target is not None, "monk": tone,
                     "ita": round(ita, 1)}
            # Compliant: nearer and farther, a little off the middle, brighter and dimmer light.
            compliant = [
                ("good", 125.0, centre, 0.0, 1.0),
                ("near", 150.0, (centre[0] + 12, centre[1] + 10), 2.0, 1.0),
                ("far", 105.0, (centre[0] - 15, centre[1] - 8), -2.0, 1.0),
                ("bright", 125.0, (centre[0] + 20, centre[1]), 0.0, 1.06),
                ("dim", 125.0, (centre[0] - 20, centre[1] + 5), 0.0, 0.85),
                ("tilt", 135.0, centre, 4.0, 1.0),
            ]
            for kind, distance, mid, roll, light in compliant:
                frame = compose(source, left, right, distance, mid, roll, seed=index) * light
                name = f"{stem}-{kind}.jpg"
                save(frame, name)
                manifest.append(dict(entry, file=name, kind=kind, expect=None,
                                     eyes=eyes_in_frame(mid, distance, roll)))
            # Each failure kind, and the check that must say so.
            face_luma = float(np.dot(cheeks(base, *eyes_in_frame(centre, 125.0, 0.0), 125.0),
                                     [0.299, 0.587, 0.114]))
            # A wall of posters: blocks of many colours.
            rng = np.random.default_rng(index)
            shape = (HEIGHT // 40 + 1, WIDTH // 40 + 1)
            blocks = rng.uniform(30.0, 245.0, shape)[..., None] * rng.uniform(0.7, 1.0, shape + (3,))
            busy = np.repeat(np.repeat(blocks, 40, axis=0), 40, axis=1)[:HEIGHT, :WIDTH]
            failing = [
                ("dark", base * 0.25, "exposure"),
                # Enough light to bleach the face, whatever its tone.
                ("overexposed", base * max(2.0, 330.0 / max(face_luma, 1.0)), "exposure"),
                ("flat", 0.4 * base + 0.6 * np.mean(base), "dynamic_range"),
                ("blurred", np.asarray(Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
                                       .filter(ImageFilter.GaussianBlur(5)), dtype=np.float64), "sharpness"),
                ("toofar", compose(source, left, right, 55.0, centre, seed=index), "eye_distance"),
                ("offcentre", compose(source, left, right, 110.0, (centre[0] + 150, centre[1]), seed=index), "centred"),
                ("tilted", compose(source, left, right, 120.0, centre, 15.0, seed=index), "roll"),
                ("busy", compose(source, left, right, 125.0, centre, seed=index, busy=busy), "background_plain"),
            ]
            for kind, frame, check in failing:
                name = f"{stem}-{kind}.jpg"
                save(frame, name)
                manifest.append(dict(entry, file=name, kind=kind, expect=check, eyes=None))
    with open(os.path.join(OUT, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=0)
    print(len(manifest))


main()
