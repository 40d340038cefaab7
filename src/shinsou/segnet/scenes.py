"""A road-scene generator in CamVid's 11 classes: a pinhole camera over a street whose ground and building facades
are ray-cast per pixel and whose objects (cars, people, cyclists, poles, signs, trees, fences) are painted far to near."""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm import tqdm

from shinsou.errors import ConfigError
from shinsou.segnet.palette import CAMVID

C = {name: i for i, name in enumerate(CAMVID.names)}  # class name -> index
VOID = CAMVID.void_index
LANE = 3.2  # metres
MASK_FORMATS = ("index", "colour")
GENERATOR_VERSION = 6  # part of the cache folder name: bump it whenever the scenes drawn for a seed change


@dataclass
class Camera:
    """Pinhole camera at height `hc` looking down the road (+Z); X right, Y up, in metres; `roll` in radians."""

    height: int
    width: int
    f: float  # focal length in pixels
    hc: float  # camera height above the road
    y0: float  # horizon row
    xv: float  # vanishing point column
    roll: float

    def project(self, X, Y, Z):
        """World points -> image (x, y), rolled about the image centre."""
        X, Y, Z = (np.asarray(v, dtype=np.float64) for v in (X, Y, Z))
        x = self.xv + self.f * X / Z
        y = self.y0 + self.f * (self.hc - Y) / Z
        cx, cy = self.width / 2, self.height / 2
        c, s = math.cos(self.roll), math.sin(self.roll)
        return cx + c * (x - cx) - s * (y - cy), cy + s * (x - cx) + c * (y - cy)

    def rays(self):
        """(H, W) unrolled image coordinates of every pixel centre, for ray casting the ground and facades."""
        ys, xs = np.mgrid[0:self.height, 0:self.width].astype(np.float64) + 0.5
        cx, cy = self.width / 2, self.height / 2
        c, s = math.cos(-self.roll), math.sin(-self.roll)
        return cx + c * (xs - cx) - s * (ys - cy), cy + s * (xs - cx) + c * (ys - cy)


class Canvas:
    """The picture and its label map, painted together: every stroke sets colour and class for the same pixels."""

    def __init__(self, camera: Camera, rng: np.random.Generator):
        self.camera, self.rng = camera, rng
        h, w = camera.height, camera.width
        self.image = np.zeros((h, w, 3))  # float RGB in [0, 1]
        self.label = np.full((h, w), VOID, dtype=np.uint8)
        self.texture = smooth_noise(rng, h, w, 6) - 0.5  # (H, W) in [-0.5, 0.5]

    def paint(self, region: np.ndarray, colour, cls: int, texture: float = 0.15) -> None:
        colour = np.asarray(colour, dtype=np.float64)
        shade = 1 + texture * self.texture[region]
        self.image[region] = (colour if colour.ndim == 1 else colour[region]) * shade[:, None]
        self.label[region] = cls

    def shade(self, region: np.ndarray, factor: float) -> None:
        """Darken (a shadow) or brighten without changing the labels."""
        self.image[region] *= factor

    def region(self, polygons, holes=()) -> np.ndarray:
        """World polygons (lists of (X, Y, Z)) -> boolean (H, W) of the pixels they cover."""
        layer = Image.new("L", (self.camera.width, self.camera.height), 0)
        draw = ImageDraw.Draw(layer)
        for polygon, fill in [(p, 255) for p in polygons] + [(p, 0) for p in holes]:
            X, Y, Z = np.asarray(polygon, dtype=np.float64).T
            if (Z <= 0.05).any():
                continue
            x, y = self.camera.project(X, Y, Z)
            if x.max() < -50 or x.min() > self.camera.width + 50 or y.max() < -50 or y.min() > self.camera.height + 50:
                continue
            draw.polygon(list(zip(x.clip(-1e4, 1e4), y.clip(-1e4, 1e4))), fill=fill)
        return np.asarray(layer) > 0

    def draw(self, polygons, colour, cls: int, texture: float = 0.15, holes=()) -> None:
        region = self.region(polygons, holes)
        if region.any():
            self.paint(region, colour, cls, texture)


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a coarse random grid upsampled bicubically to (h, w)."""
    grid = rng.random((cells, max(2, cells * w // h)))
    img = Image.fromarray((grid * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    return np.asarray(img, dtype=np.float64) / 255


# -- shapes in world coordinates (metres) ----------------------------------------------------------------------
def front_rect(x0, x1, y0, y1, z):
    """A rectangle facing the camera (in the plane Z = z)."""
    return [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]


def side_rect(x, z0, z1, y0, y1):
    """A rectangle along the road (in the plane X = x)."""
    return [(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)]


def ground_rect(x0, x1, z0, z1, y=0.0):
    return [(x0, y, z0), (x1, y, z0), (x1, y, z1), (x0, y, z1)]


def front_ellipse(xc, yc, rx, ry, z, n=16):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [(xc + rx * math.cos(a), yc + ry * math.sin(a), z) for a in t]


def jitter(rng, colour, amount=0.08):
    return np.clip(np.asarray(colour) * (1 + rng.uniform(-amount, amount, 3)), 0, 1)


ROAD_GREYS = [(0.30, 0.30, 0.32), (0.36, 0.36, 0.38), (0.25, 0.25, 0.27), (0.40, 0.39, 0.38)]
PAVEMENT = [(0.66, 0.62, 0.56), (0.62, 0.50, 0.45), (0.72, 0.70, 0.64), (0.60, 0.58, 0.54)]
FACADES = [(0.55, 0.35, 0.28), (0.75, 0.70, 0.60), (0.60, 0.45, 0.40), (0.50, 0.38, 0.30), (0.45, 0.40, 0.38),
           (0.68, 0.52, 0.38), (0.62, 0.55, 0.45), (0.70, 0.45, 0.35)]
CAR_COLOURS = [(0.8, 0.1, 0.1), (0.1, 0.2, 0.6), (0.9, 0.9, 0.9), (0.1, 0.1, 0.1), (0.5, 0.5, 0.52), (0.7, 0.7, 0.72),
               (0.2, 0.4, 0.2), (0.9, 0.7, 0.1), (0.35, 0.35, 0.38), (0.6, 0.3, 0.1)]
GREENS = [(0.20, 0.40, 0.15), (0.30, 0.50, 0.20), (0.15, 0.30, 0.12), (0.40, 0.50, 0.25), (0.25, 0.35, 0.10)]
CLOTHES = [(0.1, 0.1, 0.3), (0.6, 0.1, 0.1), (0.1, 0.1, 0.1), (0.8, 0.8, 0.8), (0.2, 0.4, 0.6), (0.5, 0.4, 0.3),
           (0.9, 0.6, 0.1), (0.3, 0.5, 0.3)]
HI_VIS = [(0.85, 0.95, 0.15), (1.0, 0.55, 0.1)]  # fluorescent yellow-green and orange
HELMETS = [(0.95, 0.95, 0.95), (0.9, 0.2, 0.1), (0.1, 0.1, 0.1), (0.2, 0.5, 0.9)]
SKIN = [(0.95, 0.80, 0.65), (0.75, 0.55, 0.40), (0.45, 0.30, 0.20)]


@dataclass
class Street:
    """The layout: road edges, pavement widths and which sides have buildings."""

    road_left: float
    road_right: float
    lanes: int
    pavement_left: float
    pavement_right: float
    buildings: tuple[bool, bool]
    far: float = 250.0

    def kerb(self, side: int) -> float:
        return self.road_left if side < 0 else self.road_right

    def outer(self, side: int) -> float:
        return self.road_left - self.pavement_left if side < 0 else self.road_right + self.pavement_right


def make_camera(rng, height, width) -> Camera:
    return Camera(height, width, f=width * rng.uniform(0.85, 1.25), hc=rng.uniform(1.2, 1.9),
                  y0=height * rng.uniform(0.36, 0.52), xv=width * rng.uniform(0.38, 0.62),
                  roll=math.radians(rng.uniform(-3, 3)) if rng.random() < 0.5 else 0.0)


def make_street(rng) -> Street:
    lanes = int(rng.integers(2, 5))
    own_lane = int(rng.integers(0, lanes))
    left = -(own_lane * LANE + LANE / 2 + rng.uniform(-0.5, 0.5))
    return Street(left, left + lanes * LANE, lanes, rng.uniform(1.5, 4.5), rng.uniform(1.5, 4.5),
                  (rng.random() < 0.8, rng.random() < 0.8))


def paint_sky(canvas: Canvas, xs, ys, rng) -> None:
    cam = canvas.camera
    skies = [(0.35, 0.55, 0.85), (0.50, 0.65, 0.90), (0.55, 0.62, 0.75)]  # blue, light blue, haze
    top = np.array(skies[rng.choice(3, p=[0.45, 0.35, 0.2])])
    bottom = np.clip(top + rng.uniform(0.1, 0.3), 0, 1)
    t = np.clip(ys / max(cam.y0, 1), 0, 1)[..., None]
    colour = top * (1 - t) + bottom * t  # (H, W, 3) gradient to the horizon
    clouds = smooth_noise(rng, cam.height, cam.width, 5)
    colour = colour + (clouds > rng.uniform(0.5, 0.8))[..., None] * 0.25
    canvas.paint(np.ones_like(canvas.label, bool), np.clip(colour, 0, 1), C["Sky"], texture=0.05)


def paint_skyline(canvas: Canvas, xs, ys, rng) -> None:
    """Distant buildings or a tree line along the horizon."""
    cam = canvas.camera
    distance = rng.uniform(120, 250)
    edges = np.sort(rng.uniform(-1, 1, int(rng.integers(6, 16)))) * cam.width * 1.5 + cam.xv
    block = np.searchsorted(edges, xs)
    heights = rng.uniform(0, 40, len(edges) + 1) * (rng.random(len(edges) + 1) < 0.75)
    top = cam.y0 - cam.f * (heights[block] - cam.hc) / distance
    region = (ys >= top) & (ys <= cam.y0 + cam.f * cam.hc / distance)
    if rng.random() < 0.7:
        canvas.paint(region, jitter(rng, rng.choice(FACADES)) * 0.85, C["Building"], texture=0.3)
    else:
        canvas.paint(region, jitter(rng, rng.choice(GREENS)), C["Tree"], texture=0.4)


def paint_ground(canvas: Canvas, street: Street, xs, ys, rng) -> tuple[np.ndarray, np.ndarray]:
    """Road (with markings, maybe a zebra crossing), pavements with kerbs, grass beyond; ray-cast per pixel."""
    cam = canvas.camera
    below = ys > cam.y0 + cam.f * cam.hc / street.far
    Z = np.where(below, cam.f * cam.hc / np.maximum(ys - cam.y0, 1e-6), street.far)  # distance along the road
    X = (xs - cam.xv) * Z / cam.f
    road = below & (X >= street.road_left) & (X <= street.road_right)
    left_pave = below & (X < street.road_left) & (X >= street.outer(-1))
    right_pave = below & (X > street.road_right) & (X <= street.outer(1))
    beyond = below & ~road & ~left_pave & ~right_pave
    grass, plaza = jitter(rng, rng.choice(GREENS)), jitter(rng, rng.choice(PAVEMENT))
    grass_cls = C["Tree"] if rng.random() < 0.6 else C["Pavement"]  # verges: vegetation (Tree in CamVid-11) or paving
    canvas.paint(beyond, grass if grass_cls == C["Tree"] else plaza, grass_cls, texture=0.5)

    canvas.paint(road, jitter(rng, rng.choice(ROAD_GREYS)), C["Road"], texture=0.25)
    white = np.array([0.92, 0.92, 0.88]) if rng.random() < 0.8 else np.array([0.9, 0.8, 0.3])
    dash = rng.uniform(6, 12)
    markings = np.zeros_like(road)
    for k in range(1, street.lanes):  # dashed lane lines
        line = street.road_left + k * LANE
        markings |= (np.abs(X - line) < 0.07) & ((Z % dash) < dash / 3)
    for edge in (street.road_left + 0.25, street.road_right - 0.25):  # solid edge lines
        if rng.random() < 0.6:
            markings |= np.abs(X - edge) < 0.06
    if rng.random() < 0.25:  # zebra crossing
        z0 = rng.uniform(6, 25)
        markings |= (Z > z0) & (Z < z0 + 3) & ((X % 1.0) < 0.5)
    canvas.paint(road & markings, white, C["Road"], texture=0.1)

    for side, pave in ((-1, left_pave), (1, right_pave)):
        colour = jitter(rng, rng.choice(PAVEMENT))
        canvas.paint(pave, colour, C["Pavement"], texture=0.3)
        tiles = pave & (((X % 0.8) < 0.05) | ((Z % 0.8) < 0.05))
        canvas.shade(tiles, 0.85)
        kerb = pave & (np.abs(X - street.kerb(side)) < 0.15)
        canvas.paint(kerb, np.clip(colour * 1.2, 0, 1), C["Pavement"], texture=0.1)
    if rng.random() < 0.5:  # a building's shadow across part of the street
        edge = rng.uniform(street.road_left, street.road_right)
        slope = rng.uniform(-0.3, 0.3)
        side = rng.choice([-1, 1])
        shadow = below & (side * (X - edge - slope * Z) > 0)
        canvas.shade(shadow, rng.uniform(0.5, 0.75))
    return X, Z


def paint_facades(canvas: Canvas, street: Street, xs, ys, rng) -> None:
    """Rows of building fronts (with gaps) in the planes X = outer edge of each pavement, ray-cast per pixel."""
    cam = canvas.camera
    for side in (-1, 1):
        if not street.buildings[(side + 1) // 2]:
            continue
        B = street.outer(side) - side * rng.uniform(0, 0.5)
        with np.errstate(divide="ignore", invalid="ignore"):
            Z = np.nan_to_num(cam.f * B / (xs - cam.xv), nan=-1.0, posinf=-1.0, neginf=-1.0)  # distance where the ray meets X = B
        Y = cam.hc - (ys - cam.y0) * Z / cam.f
        lengths = rng.uniform(6, 22, 20)
        starts = np.concatenate([[1.0], 1.0 + np.cumsum(lengths)])
        end = rng.uniform(50, 200)
        heights = rng.uniform(4, 24, 20) * (rng.random(20) < 0.88)  # some gaps
        building = np.clip(np.searchsorted(starts, Z) - 1, 0, 19)
        visible = (Z > 0) & (Z < end) & (Z < starts[-1]) & (Y >= 0) & (Y <= heights[building])
        colours = np.array([jitter(rng, FACADES[i]) for i in rng.integers(0, len(FACADES), 20)])
        canvas.paint(visible, colours[building], C["Building"], texture=0.2)
        period_z, period_y = rng.uniform(2.0, 3.5), rng.uniform(2.8, 3.5)
        local_z = Z - starts[building]
        windows = (visible & (Y > 2.5) & (Y < heights[building] - 1) & ((local_z % period_z) > 0.35 * period_z)
                   & ((local_z % period_z) < 0.8 * period_z) & ((Y % period_y) > 0.3 * period_y) & ((Y % period_y) < 0.8 * period_y))
        glass = np.array([0.25, 0.3, 0.38]) if rng.random() < 0.7 else np.array([0.85, 0.75, 0.45])
        canvas.paint(windows, glass, C["Building"], texture=0.3)
        cornice = visible & (Y > heights[building] - 0.4)
        canvas.shade(cornice, 0.7)
        shopfront = visible & (Y < 2.2) & (Y > 0.3) & ((local_z % 5) < 3.5)
        canvas.shade(shopfront, rng.uniform(0.4, 0.8))


# -- objects, each drawn at its distance so that nearer ones occlude farther ones ----------------------------------------
def draw_car(canvas: Canvas, x: float, z: float, rng, facing_away: bool = True) -> None:
    w, h, length = rng.uniform(1.6, 2.0), rng.uniform(1.3, 1.7), rng.uniform(3.8, 4.8)
    body = jitter(rng, CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))])
    x0, x1 = x - w / 2, x + w / 2
    canvas.shade(canvas.region([ground_rect(x0 - 0.15, x1 + 0.3, z - 0.3, z + length)]), 0.45)  # its shadow
    if x0 > 0.2 or x1 < -0.2:  # a side is in view
        sx = x0 if x0 > 0 else x1
        canvas.draw([side_rect(sx, z, z + length, 0.25, h * 0.62)], body * 0.75, C["Car"])
        canvas.draw([[(sx, h * 0.62, z + 0.4), (sx, h * 0.62, z + length - 0.5), (sx, h, z + length - 1.4),
                      (sx, h, z + 1.2)]], np.array([0.15, 0.17, 0.2]), C["Car"])
        for wz in (z + 0.8, z + length - 0.8):
            canvas.draw([[(sx, 0.32 + 0.32 * math.sin(a), wz + 0.32 * math.cos(a)) for a in np.linspace(0, 2 * np.pi, 12, endpoint=False)]],
                        np.array([0.05, 0.05, 0.05]), C["Car"], texture=0.05)
    canvas.draw([front_rect(x0, x1, 0.25, h * 0.62, z)], body, C["Car"])
    canvas.draw([front_rect(x0 + 0.15, x1 - 0.15, h * 0.62, h, z + 0.6)], body * 0.9, C["Car"])
    canvas.draw([front_rect(x0 + 0.25, x1 - 0.25, h * 0.66, h * 0.95, z + 0.55)], np.array([0.12, 0.14, 0.18]), C["Car"])
    lamp = np.array([0.85, 0.1, 0.1]) if facing_away else np.array([0.95, 0.95, 0.8])
    for lx in (x0 + 0.1, x1 - 0.35):
        canvas.draw([front_rect(lx, lx + 0.25, h * 0.42, h * 0.55, z - 0.01)], lamp, C["Car"], texture=0.05)
    for wx in (x0 + 0.05, x1 - 0.3):
        canvas.draw([front_rect(wx, wx + 0.25, 0.0, 0.3, z + 0.02)], np.array([0.05, 0.05, 0.05]), C["Car"], texture=0.05)


def draw_person(canvas: Canvas, x: float, z: float, rng, cls: int = C["Pedestrian"], base: float = 0.0,
                height: float | None = None, shirt: np.ndarray | None = None, helmet: np.ndarray | None = None) -> None:
    h = height or rng.uniform(1.55, 1.95)
    trousers = jitter(rng, CLOTHES[int(rng.integers(len(CLOTHES)))])
    shirt = jitter(rng, CLOTHES[int(rng.integers(len(CLOTHES)))]) if shirt is None else shirt
    stride = rng.uniform(-0.15, 0.15)
    for leg in (-1, 1):
        canvas.draw([[(x + leg * 0.1 - 0.07 + leg * stride, base, z), (x + leg * 0.1 + 0.07 + leg * stride, base, z),
                      (x + leg * 0.08 + 0.07, base + 0.48 * h, z), (x + leg * 0.08 - 0.07, base + 0.48 * h, z)]],
                    trousers, cls)
    canvas.draw([front_rect(x - 0.24, x + 0.24, base + 0.46 * h, base + 0.82 * h, z)], shirt, cls)
    for arm in (-1, 1):
        canvas.draw([front_rect(x + arm * 0.24 - 0.06, x + arm * 0.24 + 0.06, base + 0.5 * h, base + 0.8 * h, z - 0.01)],
                    shirt * 0.85, cls)
    canvas.draw([front_ellipse(x, base + 0.9 * h, 0.12, 0.13, z)], jitter(rng, SKIN[int(rng.integers(len(SKIN)))]), cls)
    if helmet is not None:  # the upper half of a slightly larger ellipse over the head
        canvas.draw([front_ellipse(x, base + 0.93 * h, 0.15, 0.12, z - 0.02)[:9]], helmet, cls)


def draw_bicyclist(canvas: Canvas, x: float, z: float, rng) -> None:
    """A cyclist seen from the side (crossing) or from behind; rider and bicycle are both Bicyclist."""
    frame = jitter(rng, CAR_COLOURS[int(rng.integers(len(CAR_COLOURS)))])
    tyre = np.array([0.08, 0.08, 0.08])
    # riders wear a helmet, most of them a high-visibility vest too: the cues that tell a rider from a pedestrian
    helmet = jitter(rng, HELMETS[int(rng.integers(len(HELMETS)))])
    vest = jitter(rng, HI_VIS[int(rng.integers(len(HI_VIS)))]) if rng.random() < 0.7 else None
    if rng.random() < 0.8:  # side view: two wheels in the plane Z = z
        r = 0.34
        for wx in (x - 0.55, x + 0.55):
            canvas.draw([front_ellipse(wx, r, r, r, z)], tyre, C["Bicyclist"], texture=0.05,
                        holes=[front_ellipse(wx, r, r - 0.1, r - 0.1, z)])
        canvas.draw([[(x - 0.55, r, z), (x - 0.45, r, z), (x + 0.1, 0.9, z), (x, 0.9, z)],
                     [(x - 0.1, 0.85, z), (x + 0.5, 0.85, z), (x + 0.6, r, z), (x + 0.5, r, z)]], frame, C["Bicyclist"])
        draw_person(canvas, x, z - 0.05, rng, cls=C["Bicyclist"], base=0.45, height=1.3, shirt=vest, helmet=helmet)
    else:  # from behind: a thin wheel under the rider
        canvas.draw([front_rect(x - 0.05, x + 0.05, 0.0, 0.7, z + 0.02)], tyre, C["Bicyclist"])
        canvas.draw([front_rect(x - 0.25, x + 0.25, 0.85, 0.9, z + 0.3)], frame, C["Bicyclist"])
        draw_person(canvas, x, z, rng, cls=C["Bicyclist"], base=0.35, height=1.4, shirt=vest, helmet=helmet)


def draw_pole(canvas: Canvas, x: float, z: float, rng) -> None:
    height, w = rng.uniform(3.0, 8.0), rng.uniform(0.3, 0.5)
    grey = jitter(rng, [(0.45, 0.45, 0.45), (0.2, 0.3, 0.2), (0.15, 0.15, 0.15), (0.7, 0.7, 0.68)][int(rng.integers(4))])
    canvas.draw([front_rect(x - w / 2, x + w / 2, 0.0, height, z)], grey, C["Pole"], texture=0.1)
    kind = rng.random()
    if kind < 0.55:  # a sign near the top
        y, size = min(height - 0.2, rng.uniform(2.2, 3.2)), rng.uniform(0.8, 1.3)
        colour = np.array([[0.8, 0.1, 0.1], [0.1, 0.3, 0.8], [0.95, 0.8, 0.1], [0.95, 0.95, 0.95]][int(rng.integers(4))])
        shape = rng.random()
        if shape < 0.4:
            canvas.draw([front_ellipse(x, y, size / 2, size / 2, z - 0.02)], colour, C["SignSymbol"], texture=0.05)
        elif shape < 0.7:
            canvas.draw([[(x - size / 2, y - size / 2, z - 0.02), (x + size / 2, y - size / 2, z - 0.02), (x, y + size / 2, z - 0.02)]],
                        colour, C["SignSymbol"], texture=0.05)
        else:
            canvas.draw([front_rect(x - size * 0.7, x + size * 0.7, y - size / 3, y + size / 3, z - 0.02)], colour, C["SignSymbol"], texture=0.05)
    elif kind < 0.75:  # a traffic light
        y = min(height - 0.5, rng.uniform(2.5, 3.5))
        canvas.draw([front_rect(x - 0.18, x + 0.18, y - 0.5, y + 0.5, z - 0.02)], np.array([0.1, 0.1, 0.1]), C["SignSymbol"], texture=0.05)
        lit = int(rng.integers(3))
        for i, colour in enumerate(([0.9, 0.1, 0.1], [0.9, 0.7, 0.1], [0.1, 0.8, 0.3])):
            canvas.draw([front_ellipse(x, y + 0.3 - 0.3 * i, 0.1, 0.1, z - 0.04, n=10)],
                        np.array(colour) * (1.0 if i == lit else 0.35), C["SignSymbol"], texture=0.05)
    elif kind < 0.9:  # a street lamp's arm over the road
        reach = -np.sign(x) * rng.uniform(1.0, 2.0)
        canvas.draw([[(x, height - 0.1, z), (x + reach, height, z), (x + reach, height + 0.1, z), (x, height, z)]], grey, C["Pole"])


def draw_tree(canvas: Canvas, x: float, z: float, rng) -> None:
    trunk_h, r = rng.uniform(1.5, 3.0), rng.uniform(1.2, 2.8)
    canvas.draw([front_rect(x - 0.18, x + 0.18, 0.0, trunk_h + r * 0.3, z)], jitter(rng, (0.35, 0.25, 0.15)), C["Tree"])
    base = jitter(rng, GREENS[int(rng.integers(len(GREENS)))])
    for _ in range(int(rng.integers(4, 8))):
        dx, dy, rr = rng.uniform(-0.6, 0.6) * r, rng.uniform(-0.4, 0.5) * r, rng.uniform(0.45, 0.8) * r
        canvas.draw([front_ellipse(x + dx, trunk_h + r + dy, rr, rr * rng.uniform(0.8, 1.1), z - 0.05, n=14)],
                    jitter(rng, base, 0.2), C["Tree"], texture=0.5)


def draw_fence(canvas: Canvas, x: float, z0: float, z1: float, rng) -> None:
    height = rng.uniform(1.4, 2.2)
    colour = jitter(rng, [(0.45, 0.35, 0.25), (0.3, 0.3, 0.32), (0.6, 0.6, 0.6), (0.2, 0.3, 0.25)][int(rng.integers(4))])
    canvas.draw([side_rect(x, z0, z1, 0.0, height)], colour, C["Fence"], texture=0.2)
    bars = canvas.region([side_rect(x, z, z + 0.08, 0.0, height + 0.1) for z in np.arange(z0, z1, rng.uniform(0.8, 2.0))])
    if bars.any():
        canvas.paint(bars, colour * 0.6, C["Fence"], texture=0.1)


def draw_clutter(canvas: Canvas, x: float, z: float, rng) -> None:
    """Bins, boxes, bollards: things CamVid leaves unlabelled (Void), so the model may call them anything."""
    w, h = rng.uniform(0.3, 1.0), rng.uniform(0.4, 1.2)
    canvas.draw([front_rect(x - w / 2, x + w / 2, 0.0, h, z)], rng.uniform(0.1, 0.9, 3), VOID, texture=0.2)


def place_objects(street: Street, rng) -> list[tuple[float, partial]]:
    """(distance, draw function) for every object of the scene; each is later called as draw(canvas, rng=rng)."""
    objects = []
    for _ in range(rng.poisson(3.0)):  # cars in lanes or parked at the kerb
        if rng.random() < 0.3:
            x = street.road_left + 1.1 if rng.random() < 0.5 else street.road_right - 1.1
        else:
            x = street.road_left + LANE / 2 + int(rng.integers(0, street.lanes)) * LANE + rng.uniform(-0.3, 0.3)
        z = rng.uniform(3.5, 40)
        objects.append((z, partial(draw_car, x=x, z=z, facing_away=bool(x > -0.5 or rng.random() < 0.5))))
    for _ in range(rng.poisson(2.5)):  # pedestrians, mostly on the pavement
        side = rng.choice([-1, 1])
        if rng.random() < 0.2:
            x = rng.uniform(street.road_left, street.road_right)
        else:
            x = street.kerb(side) + side * rng.uniform(0.3, max(0.4, abs(street.outer(side) - street.kerb(side)) - 0.3))
        z = rng.uniform(2.5, 14)
        objects.append((z, partial(draw_person, x=x, z=z)))
    for _ in range(int(rng.random() < 0.7) + int(rng.random() < 0.25)):  # cyclists, mostly near the road edge
        x = (street.road_left + 0.8) if rng.random() < 0.5 else (street.road_right - 0.8)
        if rng.random() < 0.3:
            x = rng.uniform(street.road_left, street.road_right)
        z = rng.uniform(3.0, 12)
        objects.append((z, partial(draw_bicyclist, x=x, z=z)))
    for side in (-1, 1):
        z = rng.uniform(3.0, 12.0)
        while z < 25:  # poles and signs along the kerb
            objects.append((z, partial(draw_pole, x=street.kerb(side) + side * rng.uniform(0.3, 0.8), z=z)))
            z += rng.uniform(6, 14)
        if rng.random() < 0.6:  # a row of trees
            z = rng.uniform(3.0, 12.0)
            while z < 80:
                objects.append((z, partial(draw_tree, x=street.outer(side) - side * rng.uniform(0.6, 1.4), z=z)))
                z += rng.uniform(6, 16)
        if rng.random() < 0.5:  # a fence along the pavement's outer edge or the kerb
            x = street.outer(side) - side * 0.2 if rng.random() < 0.6 else street.kerb(side) + side * 0.15
            z0 = rng.uniform(2.0, 12.0)
            objects.append((z0, partial(draw_fence, x=x, z0=z0, z1=z0 + rng.uniform(8, 30))))
    for _ in range(rng.poisson(1.0)):  # unlabelled clutter on the pavement
        side = rng.choice([-1, 1])
        z = rng.uniform(3.0, 30)
        objects.append((z, partial(draw_clutter, x=street.kerb(side) + side * rng.uniform(0.4, 1.5), z=z)))
    return objects


def finish(canvas: Canvas, rng) -> np.ndarray:
    """Lighting, colour cast, blur and sensor noise -> (H, W, 3) uint8."""
    image = canvas.image * rng.uniform(0.8, 1.2) * rng.uniform(0.93, 1.07, 3)
    image = image ** rng.uniform(0.8, 1.25)
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]]
    r2 = ((xs / image.shape[1] - 0.5) ** 2 + (ys / image.shape[0] - 0.5) ** 2)
    image = image * (1 - rng.uniform(0, 0.5) * r2)[..., None]  # vignetting
    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    noisy = np.asarray(picture, dtype=np.float64) + rng.normal(0, rng.uniform(2, 5), image.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def make_scene(height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One road scene: (H, W, 3) uint8 picture and (H, W) uint8 CamVid class indices (11 = Void)."""
    camera = make_camera(rng, height, width)
    street = make_street(rng)
    canvas = Canvas(camera, rng)
    xs, ys = camera.rays()
    paint_sky(canvas, xs, ys, rng)
    paint_skyline(canvas, xs, ys, rng)
    paint_ground(canvas, street, xs, ys, rng)
    paint_facades(canvas, street, xs, ys, rng)
    for _, draw in sorted(place_objects(street, rng), key=lambda item: -item[0]):  # far to near
        draw(canvas, rng=rng)
    return finish(canvas, rng), canvas.label


# -- writing a data set in the CamVid layout ----------------------------------------------------------------------------
SPLITS = ("train", "val", "test")


def scene_rng(seed: int, split: str, i: int) -> np.random.Generator:
    """One stream per image: scene i of a split is the same whatever the set's size."""
    return np.random.default_rng([seed, SPLITS.index(split), i])


def write_scenes(out: str | os.PathLike, n_train: int, size: tuple[int, int], seed: int = 0, n_val: int | None = None,
                 n_test: int | None = None, masks: str = "index") -> dict[str, int]:
    """Write train/ trainannot/ val/ valannot/ test/ testannot/ PNGs (as the SegNet tutorial ships CamVid).

    Val and test default to n/8 and n/4 scenes (400 -> 50 and 100). `masks`: "index" (one-channel class
    indices, Void = 11, as the tutorial's *annot folders) or "colour" (RGB in the CamVid palette).
    """
    if masks not in MASK_FORMATS:
        raise ConfigError(f"unknown mask format {masks!r} (known: {', '.join(MASK_FORMATS)})")
    counts = {"train": n_train, "val": max(1, n_train // 8) if n_val is None else n_val,
              "test": max(1, n_train // 4) if n_test is None else n_test}
    out = Path(out)
    total = sum(counts.values())
    with tqdm(total=total, desc=f"generating {total} scenes", file=sys.stderr, leave=False, disable=total < 50 or None) as bar:
        for split, n in counts.items():
            (out / split).mkdir(parents=True, exist_ok=True)
            (out / f"{split}annot").mkdir(parents=True, exist_ok=True)
            for i in range(n):
                image, label = make_scene(size[0], size[1], scene_rng(seed, split, i))
                name = f"scene_{i:05d}.png"
                Image.fromarray(image).save(out / split / name)
                mask = label if masks == "index" else CAMVID.decode(label)
                Image.fromarray(mask).save(out / f"{split}annot" / name)
                bar.update()
    return counts


def cache_dir() -> Path:
    return Path(os.environ.get("SHINSOU_CACHE") or Path.home() / ".cache" / "shinsou")


def default_scenes(n_train: int, size: tuple[int, int], seed: int = 0) -> Path:
    """The embedded default data: generated once into the cache (written to a temporary name, then renamed)."""
    folder = cache_dir() / f"scenes-v{GENERATOR_VERSION}-{n_train}-{size[0]}x{size[1]}-seed{seed}"
    if (folder / "test").is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
    write_scenes(tmp, n_train, size, seed)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
