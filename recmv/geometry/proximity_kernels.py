"""Warp kernels for closest-point queries (warp compiles kernels from source files)."""

import warp as wp


@wp.kernel
def closest_points_kernel(
    mesh: wp.uint64,
    points: wp.array(dtype=wp.vec3),
    max_dist: float,
    use_winding_number: int,
    out_points: wp.array(dtype=wp.vec3),
    out_sign: wp.array(dtype=wp.float32),
    out_face: wp.array(dtype=wp.int32),
):
    i = wp.tid()
    if use_winding_number != 0:
        # accuracy 2 and threshold 0.5 are warp's defaults for the fast winding number.
        query = wp.mesh_query_point_sign_winding_number(mesh, points[i], max_dist, 2.0, 0.5)
    else:
        query = wp.mesh_query_point_sign_normal(mesh, points[i], max_dist)
    if query.result:
        out_points[i] = wp.mesh_eval_position(mesh, query.face, query.u, query.v)
        out_sign[i] = query.sign
        out_face[i] = query.face
    else:
        out_points[i] = points[i]
        out_sign[i] = 1.0
        out_face[i] = -1
