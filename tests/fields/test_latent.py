import pytest
import scipy.fft
import torch

from recmv.errors import RecmvError
from recmv.fields.latent import dct_basis, smooth_latent_codes


def test_dct_basis_is_orthonormal_and_matches_scipy():
    basis = dct_basis(17, 17, dtype=torch.float64)
    torch.testing.assert_close(basis.T @ basis, torch.eye(17, dtype=torch.float64))
    signal = torch.randn(17, 4, dtype=torch.float64)
    expected = scipy.fft.dct(signal.numpy(), type=2, norm="ortho", axis=0)
    torch.testing.assert_close(basis.T @ signal, torch.from_numpy(expected))
    partial = dct_basis(17, 5, dtype=torch.float64)
    torch.testing.assert_close(partial, basis[:, :5])


def test_codes_are_temporally_smooth():
    generator = torch.Generator().manual_seed(0)
    codes = smooth_latent_codes(40, 16, generator=generator, dtype=torch.float64)
    assert codes.shape == (40, 16)
    spectrum = scipy.fft.dct(codes.numpy(), type=2, norm="ortho", axis=0)
    # floor(40 / 5) = 8 bases: all energy in the lowest 8 DCT coefficients.
    assert (spectrum[8:] ** 2).sum() < 1e-20
    assert (spectrum[:8] ** 2).sum() > 1e-3
    # Coefficients are N(0, 0.1^2): total energy ~ 8 * 16 * 0.01.
    assert 0.6 < (spectrum**2).sum() < 2.0


def test_codes_are_reproducible_and_handle_short_sequences():
    first = smooth_latent_codes(30, 8, generator=torch.Generator().manual_seed(5))
    second = smooth_latent_codes(30, 8, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(first, second)
    # Fewer than 5 frames still uses one basis: a constant code over time.
    short = smooth_latent_codes(3, 4, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(short, short[:1].expand(3, 4))
    with pytest.raises(RecmvError):
        smooth_latent_codes(10, 4, num_bases=11)
    with pytest.raises(RecmvError):
        dct_basis(0, 1)
