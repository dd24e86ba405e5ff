"""Body models (Anny, SMPL), pure LBS maths and the diffused skinning-weight grid."""
