"""What every command-line entry point shares: strict flags, one-line errors, --json_out."""
import argparse
import contextlib
import json
import os
import sys
import tempfile

from kws_tf.errors import KwsError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that rejects unknown and abbreviated flags with a single error line.

    Hello Edge used parse_known_args, so a typo such as --windo_stride_ms was
    silently dropped; here it stops the run before anything is written.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args=None, namespace=None):
        """Also checks that --json_out can be written, before any long work starts."""
        parsed = super().parse_args(args, namespace)
        if getattr(parsed, "json_out", ""):
            try:
                check_writable(parsed.json_out)
            except KwsError as error:
                self.exit(2, f"error: --json_out {error}\n")
        return parsed


def add_json_out(parser):
    parser.add_argument("--json_out", default="",
                        help="Write the final figures (metrics, paths written, timings) to this "
                             "JSON file.")


@contextlib.contextmanager
def user_errors():
    """Turns a KwsError into `error: <message>` on stderr and exit status 2."""
    try:
        yield
    except KwsError as error:
        message = " ".join(str(error).split("\n"))
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def check_writable(path):
    """Creates the folder of `path` if needed and proves a file can be written there."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".write-test-")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise KwsError(f"{path}: cannot write there ({error.strerror})") from None


def read_bytes(path, flag):
    """The bytes of a file the user named with `flag`; KwsError naming both when unreadable."""
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except FileNotFoundError:
        raise KwsError(f"{flag} {path}: no such file") from None
    except IsADirectoryError:
        raise KwsError(f"{flag} {path}: is a directory, not a file") from None
    except OSError as error:
        raise KwsError(f"{flag} {path}: cannot read ({error.strerror})") from None


def read_json(path, kind, whose=None):
    """The JSON in `path`, a `kind` of file (e.g. "net.config"; `whose` says more); one
    KwsError line naming the file when it is missing or not JSON."""
    try:
        with open(path) as stream:
            return json.load(stream)
    except FileNotFoundError:
        raise KwsError(f"{path}: no such file ({whose or 'a ' + kind})") from None
    except (OSError, ValueError) as error:
        raise KwsError(f"{path}: not a readable JSON {kind} ({error})") from None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def atomic_write(path, write):
    """Writes through a temporary file in the same folder, so `path` is never half-written."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}-",
                                       suffix=".part")
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would hide outputs from other users
    except OSError as error:
        raise KwsError(f"{path}: cannot write ({error.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(error, OSError):
            raise KwsError(f"{path}: cannot write ({error.strerror or error})") from None
        raise


def write_json(path, figures):
    """Writes `figures` as JSON to `path` (atomically); does nothing when path is empty."""
    if path:
        text = json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n"
        atomic_write(path, lambda stream: stream.write(text.encode()))


def save_npy(path, array):
    import numpy as np

    atomic_write(path, lambda stream: np.save(stream, array))
