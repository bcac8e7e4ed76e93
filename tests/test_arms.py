"""Arms on star polygons (generators/scenes/arms.py): still simple and star-shaped, the body kept, the spikes
where they were asked for. (Default scenes draw nothing for arms: test_chewing_gum.py pins their bytes.)"""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from generators.geometry import star_polygon
from generators.scenes.arms import add_arms


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.floats(0.3, 2.0), st.floats(1.0, 5.0))
def test_arms_keep_a_simple_star_polygon_that_reaches_out(seed, count, length, width):
    rng = np.random.default_rng(seed)
    body = star_polygon(rng, int(rng.integers(7, 13)), 8.0, 0.3)
    armed = add_arms(rng, body, 8.0, (count, count), (length, length), (width, width))
    poly = shapely.Polygon(armed)
    assert poly.is_valid  # simple
    angles = np.arctan2(armed[:, 1], armed[:, 0]) % (2 * np.pi)
    assert (np.diff(angles) > 0).all()  # sorted about the origin: star-shaped
    assert poly.contains(shapely.Point(0.0, 0.0))
    # the body is kept up to the slivers between an arm's base nodes
    assert shapely.Polygon(body).difference(poly).area < 0.05 * shapely.Polygon(body).area
    radii = np.hypot(armed[:, 0], armed[:, 1])
    tips = np.isclose(radii, max(8.0 * (1 + length), 0.0), rtol=1e-9) | (radii > np.hypot(*body.T).max())
    assert 2 <= tips.sum() <= 2 * count  # each kept arm has two tip nodes, beyond the body
    assert len(armed) <= len(body) + 4 * count


def test_no_arms_is_the_body():
    body = star_polygon(np.random.default_rng(1), 9, 8.0, 0.3)
    assert add_arms(np.random.default_rng(5), body, 8.0, (0, 0), (0.5, 1.0), (2.0, 3.0)) is body
