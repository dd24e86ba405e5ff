
from recmv.body.factory import build_body_model
from recmv.evaluation.metrics import boundary_loops
from recmv.fields.sdf_init import closed_template
from recmv.templates.body_geometry import BodyGeometry
from recmv.templates.garments import GarmentParams, build_garment
from recmv.training.outputs import open_at_curves, open_at_template_caps


def test_opening_a_closed_template_restores_its_holes():
    body = build_body_model({"model": "anny", "topology": "notoes_collapse5pc"})
    geometry = BodyGeometry.from_body_model(body)
    for kind in ("short_sleeve_upper", "skirt", "long_pants"):
        params = GarmentParams.defaults(kind)
        params.resolution = 0.03
        template = build_garment(kind, geometry, params)
        vertices, faces = closed_template(template)
        opened_vertices, opened_faces = open_at_template_caps(vertices, faces, template, offset=0.01)
        loops = boundary_loops(opened_faces.numpy())
        assert len(loops) == len(template.boundaries), kind
        # What remains is the garment itself, not a sliver of it.
        assert opened_faces.shape[0] >= 0.8 * template.faces.shape[0], kind
        assert opened_vertices.shape[0] <= vertices.shape[0]


def closed_skirt():
    """A coarse skirt template, its hole-closed mesh, its hem centre, and the unit waist-to-hem axis
    with the skirt's length along it."""
    body = build_body_model({"model": "anny", "topology": "notoes_collapse5pc"})
    params = GarmentParams.defaults("skirt")
    params.resolution = 0.03
    template = build_garment("skirt", BodyGeometry.from_body_model(body), params)
    vertices, faces = closed_template(template)
    waist = template.vertices[template.boundaries["upper_bottom"]].mean(0)
    hem = template.vertices[template.boundaries["bottom_curve"]].mean(0)
    length = float((hem - waist).norm())
    return template, vertices, faces, waist, hem, (hem - waist) / length, length


def test_a_skirt_fitted_shorter_than_its_template_loses_its_hem_cap():
    """Squeezed towards its waist by 4 cm at the hem, the closed skirt's hem cap lies above the
    template's hem plane: it is still dropped, and only it."""
    template, vertices, faces, waist, hem, axis, length = closed_skirt()
    along = (vertices - waist) @ axis
    shorter = vertices - ((0.04 / length) * along)[:, None] * axis
    _, opened_faces = open_at_template_caps(shorter, faces, template, offset=0.01)
    loops = boundary_loops(opened_faces.numpy())
    assert len(loops) == 2
    assert opened_faces.shape[0] >= 0.8 * template.faces.shape[0]
    # Nothing of the squeezed skirt comes within the offset of the hem plane: the plane rule alone kept the cap.
    assert float(((shorter - hem) @ axis).max()) < -0.02


def test_a_skirt_fitted_longer_than_its_template_keeps_its_length_when_opened_at_its_curves():
    """Stretched 4 cm past the template's hem: the template's hem plane would cut the extra length off,
    the learned curves (here the stretched loops) open the caps and keep it."""
    template, vertices, faces, waist, hem, axis, length = closed_skirt()
    along = (vertices - waist) @ axis
    longer = vertices + ((0.04 / length) * along.clamp(min=0))[:, None] * axis
    count = template.vertices.shape[0]  # closed_template appends its cap vertices after the template's
    curves = [longer[:count][loop] for loop in template.boundaries.values()]
    opened_vertices, opened_faces = open_at_curves(longer, faces, curves, cell_size=0.01)
    assert len(boundary_loops(opened_faces.numpy())) == 2
    reach = float(((opened_vertices - hem) @ axis).max())
    assert reach > 0.035  # the stretched hem, 4 cm past the template's
    _, cut = open_at_template_caps(longer, faces, template, offset=0.01)
    assert cut.shape[0] < 0.9 * opened_faces.shape[0]


def test_outline_radius_follows_an_ellipse_and_lone_dropped_faces_come_back():
    import math

    import torch
    import trimesh

    from recmv.training.outputs import lone_faces, outline_radius

    angles = torch.linspace(0, 2 * math.pi, 65)[:-1]
    ellipse = torch.stack([0.2 * angles.cos(), torch.zeros_like(angles), 0.1 * angles.sin()], dim=-1)
    basis = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    query = torch.tensor([[0.05, 0.3, 0.0], [0.0, -0.2, 0.02], [-0.3, 0.0, 0.0]])
    limit, radial = outline_radius(ellipse, torch.zeros(3), basis, query)
    assert torch.allclose(limit, torch.tensor([0.2, 0.1, 0.2]), atol=2e-3)
    assert torch.allclose(radial, torch.tensor([0.05, 0.02, 0.3]))

    sphere = trimesh.creation.icosphere(subdivisions=2)
    faces = torch.from_numpy(sphere.faces.copy())
    pairs = sphere.face_adjacency.copy()
    dropped = torch.zeros(len(faces), dtype=torch.bool)
    dropped[0] = True  # alone: comes back
    dropped[pairs[100]] = True  # two neighbours: a real opening, stays dropped
    lone = lone_faces(faces, dropped)
    assert lone[0] and int(lone.sum()) == 1
