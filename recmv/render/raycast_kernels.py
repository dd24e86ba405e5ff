"""Warp kernels for ray casting (warp compiles kernels from source files, so they live here)."""

import warp as wp


@wp.kernel
def cast_rays_kernel(
    mesh: wp.uint64,
    origins: wp.array(dtype=wp.vec3),
    directions: wp.array(dtype=wp.vec3),
    max_t: float,
    out_face: wp.array(dtype=wp.int32),
    out_t: wp.array(dtype=wp.float32),
    out_bary: wp.array(dtype=wp.vec3),
):
    i = wp.tid()
    hit = wp.mesh_query_ray(mesh, origins[i], directions[i], max_t)
    if hit.result:
        out_face[i] = hit.face
        out_t[i] = hit.t
        # warp reports the hit as u * p0 + v * p1 + (1 - u - v) * p2.
        out_bary[i] = wp.vec3(hit.u, hit.v, 1.0 - hit.u - hit.v)
    else:
        out_face[i] = -1
        out_t[i] = 0.0
        out_bary[i] = wp.vec3(0.0, 0.0, 0.0)
