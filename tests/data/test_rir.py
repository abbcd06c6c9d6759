import numpy as np
import pytest

from kws_tf.data import rir
from kws_tf.data.wav import write_wav
from kws_tf.errors import KwsError


def test_simulated_rooms_are_aligned_unit_energy_and_depend_only_on_seed_and_index():
    bank = rir.simulate_bank(5, 3)
    assert bank.shape == (3, rir.RIR_SAMPLES) and bank.dtype == np.float32
    np.testing.assert_allclose(np.sum(bank.astype(np.float64) ** 2, axis=1), 1.0, rtol=1e-5)
    assert list(np.argmax(np.abs(bank), axis=1)) == [rir.DIRECT_DELAY] * 3
    np.testing.assert_array_equal(rir.simulate_bank(5, 2), bank[:2])
    assert not np.array_equal(rir.simulate_bank(6, 1)[0], bank[0])
    # A reverberant room has a tail: energy after 50 ms.
    assert np.sum(bank[:, rir.DIRECT_DELAY + 800:] ** 2) > 0


def test_bank_is_cached_per_seed_and_count(tmp_path, monkeypatch):
    monkeypatch.setenv("KWS_TF_CACHE", str(tmp_path))
    first = rir.bank(2, 2)
    monkeypatch.setattr(rir, "simulate_bank", lambda *a: pytest.fail("not read from cache"))
    np.testing.assert_array_equal(rir.bank(2, 2), first)
    assert len(list((tmp_path / "rir").glob("*.npy"))) == 1


def test_measured_responses_load_normalized_and_bad_folders_are_named(tmp_path):
    response = np.zeros(4000)
    response[100], response[300] = 0.8, 0.3
    write_wav(tmp_path / "room.wav", response, 8000)  # another rate is resampled
    rooms = rir.load_dir(str(tmp_path))
    assert rooms.shape == (1, rir.RIR_SAMPLES)
    assert np.argmax(np.abs(rooms[0])) == rir.DIRECT_DELAY
    with pytest.raises(KwsError, match="--rir_dir .*missing does not exist"):
        rir.load_dir(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(KwsError, match="holds no .wav files"):
        rir.load_dir(str(tmp_path / "empty"))
    write_wav(tmp_path / "silent.wav", np.zeros(100), 16000)
    with pytest.raises(KwsError, match="silent.wav: the impulse response is silent"):
        rir.load_dir(str(tmp_path))
