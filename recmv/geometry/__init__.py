"""Pure geometric maths on tensors: rotations, closest points and other batched operations."""
