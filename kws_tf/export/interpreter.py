"""The TFLite interpreters: LiteRT's (ai-edge-litert, else tf.lite's) and TensorFlow Lite Micro's.

TensorFlow >= 2.20 deprecates tf.lite.Interpreter (it warns on creation) in favour of LiteRT,
which runs the same kernels. Both are used with TFLite's own kernels only, without the
XNNPACK delegate: deterministic, closer to what microcontroller kernels compute, and no
"Created XNNPACK delegate" line on stderr.

TensorFlow Lite Micro (the tflite-micro package, Linux x86-64 wheels only) runs a model with
the reference kernels and the arena allocator of a microcontroller build, so it shows whether a
model runs there at all, what it computes there and the tensor arena it needs. Its int8 kernels
round a rescaled value twice (gemmlowp's way) where LiteRT's FULLY_CONNECTED rounds once, so a
value next to a .5 tie can come out one code apart (a GRU's recurrence carries that on).
"""
import contextlib
import os
import re
import subprocess
import sys
import tempfile

# TFLM's arena when only running a model: more than any microcontroller has, and no cost
# beyond address space (the planner touches only what the model uses).
MICRO_ARENA_LIMIT = 64 << 20
# The arena search stays above this: under about 470 bytes, where not even TFLM's allocator
# fits, the Python interpreter crashes (segmentation fault) instead of failing.
_SMALLEST_ARENA = 1024
_USED_BYTES = re.compile(r"Arena allocation total (\d+) bytes")


class MicroUnavailable(Exception):
    """The tflite-micro package does not import here."""


class MicroCannotRun(Exception):
    """TensorFlow Lite Micro cannot run a model; the message is TFLM's reason."""


def _module():
    try:
        from ai_edge_litert import interpreter as litert
    except ImportError:
        import tensorflow as tf

        return tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    return litert.Interpreter, litert.OpResolverType


def create(model_content):
    """An Interpreter for .tflite bytes (tensors not yet allocated)."""
    interpreter, resolver = _module()
    return interpreter(model_content=model_content,
                       experimental_op_resolver_type=resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def runtime():
    """Which interpreter `create` uses, for reports: 'ai-edge-litert' or 'tf.lite'."""
    return "ai-edge-litert" if _module()[0].__module__.startswith("ai_edge_litert") else "tf.lite"


def _micro_modules():
    """(runtime, schema) of tflite_micro; MicroUnavailable when it does not import."""
    try:
        from tflite_micro.python.tflite_micro import runtime as micro
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    except ImportError as error:
        raise MicroUnavailable(f"the tflite-micro package does not import here ({error}; it "
                               "has wheels for Linux x86-64 only)") from None
    return micro, schema


@contextlib.contextmanager
def _c_stderr():
    """Collects what C code writes to stderr meanwhile, as lines (in the list yielded).

    TFLM says why it fails only there (MicroPrintf); its exception just says that it failed.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    lines = []
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(sink.read().decode(errors="replace").splitlines())


def _reason(printed, error):
    """TFLM's first distinct lines, on one line (its exception text if it printed nothing)."""
    lines = list(dict.fromkeys(line.strip().rstrip(".") for line in printed if line.strip()))
    return "; ".join(lines[:3]) or str(error)


def _new_micro(micro, model_content, arena_size):
    """TFLM's interpreter (tensors allocated), or MicroCannotRun with TFLM's reason."""
    with _c_stderr() as printed:
        try:
            return micro.Interpreter.from_bytes(model_content, arena_size=arena_size)
        except (RuntimeError, ValueError) as error:
            failure = error
    raise MicroCannotRun(_reason(printed, failure))


class MicroInterpreter:
    """TFLM's interpreter behind the part of LiteRT's API that kws_tf uses (tensor details
    with tensor indices, set_tensor, invoke, get_tensor), so one code path feeds either.

    `model_content` must be a well-formed flatbuffer: TFLM does not verify it (load it with
    `create` first).
    """

    def __init__(self, model_content):
        micro, schema = _micro_modules()
        content = bytes(model_content)
        self._interpreter = _new_micro(micro, content, MICRO_ARENA_LIMIT)
        graph = schema.Model.GetRootAsModel(content, 0).Subgraphs(0)
        self._inputs = [int(index) for index in graph.InputsAsNumpy()]
        self._outputs = [int(index) for index in graph.OutputsAsNumpy()]

    def get_input_details(self):
        return [self._details(self._interpreter.get_input_details(position), index)
                for position, index in enumerate(self._inputs)]

    def get_output_details(self):
        return [self._details(self._interpreter.get_output_details(position), index)
                for position, index in enumerate(self._outputs)]

    @staticmethod
    def _details(micro_details, index):
        quantization = micro_details["quantization_parameters"]
        scales, zero_points = quantization["scales"], quantization["zero_points"]
        per_tensor = (float(scales[0]), int(zero_points[0])) if len(scales) == 1 else (0.0, 0)
        return {"index": index, "shape": micro_details["shape"], "dtype": micro_details["dtype"],
                "quantization": per_tensor}

    def set_tensor(self, index, value):
        self._interpreter.set_input(value, self._inputs.index(index))

    def invoke(self):
        with _c_stderr() as printed:
            try:
                self._interpreter.invoke()
                return
            except RuntimeError as error:
                failure = error
        raise MicroCannotRun(_reason(printed, failure))

    def get_tensor(self, index):
        return self._interpreter.get_output(self._outputs.index(index))


def micro_arena(model_content):
    """(arena bytes, used bytes) of TFLM for a model: the smallest tensor arena it allocates
    the model in, and what its interpreter reports in use after allocating.

    The used figure (MicroInterpreter::arena_used_bytes) leaves out the memory planner's
    scratch, which allocating also needs, so an arena of that size can be too small (for
    unrolled RNNs by half), or counts a few bytes of alignment it can do without; the
    smallest arena is found by bisection (1 KiB at least). Measured on this 64-bit host, with
    the recording allocator of the Python interpreter.
    """
    micro, _ = _micro_modules()
    content = bytes(model_content)
    interpreter = _new_micro(micro, content, MICRO_ARENA_LIMIT)
    with _c_stderr() as printed:
        interpreter.print_allocations()
    used = int(_USED_BYTES.search("\n".join(printed)).group(1))
    with tempfile.TemporaryDirectory() as folder, _ArenaProbe(content, folder) as probe:
        fails, fits = _SMALLEST_ARENA - 1, max(used, _SMALLEST_ARENA)
        while not probe.allocates(fits):
            fails, fits = fits, min(2 * fits, MICRO_ARENA_LIMIT)
        while fits - fails > 1:
            middle = (fails + fits) // 2
            if probe.allocates(middle):
                fits = middle
            else:
                fails = middle
    return fits, used


# Answers, per arena size read from stdin, whether TFLM allocates the model in it (1 or 0).
_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
content = open(sys.argv[1], "rb").read()
print("ready", flush=True)
for line in sys.stdin:
    try:
        runtime.Interpreter.from_bytes(content, arena_size=int(line))
        print(1, flush=True)
    except RuntimeError:
        print(0, flush=True)
"""


class _ArenaProbe:
    """Tries arena sizes in a child process: on some allocation failures (a kernel that does
    not check for one) TFLM's Python interpreter crashes rather than failing, which counts as
    not allocating and costs only a new child."""

    def __init__(self, content, folder):
        self._path = os.path.join(folder, "model.tflite")
        with open(self._path, "wb") as stream:
            stream.write(content)
        self._child = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self._child:
            self._child.stdin.close()
            self._child.wait()

    def allocates(self, arena_size):
        if self._child is None:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _PROBE, self._path], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            if self._child.stdout.readline().strip() != "ready":
                raise MicroUnavailable("tflite-micro does not start in a child process")
        self._child.stdin.write(f"{arena_size}\n")
        self._child.stdin.flush()
        answer = self._child.stdout.readline().strip()
        if not answer:  # it crashed
            self._child.wait()
            self._child = None
        return answer == "1"


def micro_version():
    """The tflite-micro package's version, for reports."""
    import tflite_micro

    return tflite_micro.__version__
