"""Random bytes as the wav given to label_wav.py: a result or one clear error, never a
traceback (the wav reader itself is fuzzed in tests/data/test_wav.py)."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.data.test_wav import VALID
from tests.label import frozen_graph_bytes, label_wav, tflite_bytes, write_model


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz_models")
    return [write_model(folder, "tone.pb", frozen_graph_bytes()),
            write_model(folder, "tone.tflite", tflite_bytes(softmax=True))]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from([b""] + VALID), cut=st.integers(0, 400),
       noise=st.binary(max_size=200), which=st.integers(0, 1))
def test_label_wav_never_crashes_on_random_bytes(graphs, tmp_path, capsys, base, cut, noise,
                                                which):
    path = tmp_path / "fuzz.wav"
    path.write_bytes(base[:cut] + noise)
    code, out, err = label_wav(["--graph", graphs[which], "--wav", path], capsys)
    assert "Traceback" not in err
    if code == 0:
        assert "(score = " in out
    else:
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
        assert str(path) in lines[0]
