"""Progress output that suits where it goes.

On a terminal a progress line is redrawn in place; in a file or a CI log, where carriage
returns pile up into one endless line, a plain line is printed every LOG_INTERVAL_S seconds
(and at the end).
"""
import sys
import time

LOG_INTERVAL_S = 5.0


def interactive(stream):
    return hasattr(stream, "isatty") and stream.isatty()


def progbar(total, **kwargs):
    """keras.utils.Progbar, redrawn on a terminal only (tf_keras redraws wherever the `posix`
    module is loaded, so always on Linux and macOS)."""
    import tf_keras as keras

    tty = interactive(sys.stdout)
    bar = keras.utils.Progbar(total, interval=0.05 if tty else LOG_INTERVAL_S, **kwargs)
    bar._dynamic_display = tty
    return bar


class StatusLine:
    """One status line on `stream` (stderr by default), updated with `show(text)`."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.tty = interactive(self.stream)
        self.last = None
        self.shown = False

    def show(self, text, final=False):
        now = time.monotonic()
        interval = 0.1 if self.tty else LOG_INTERVAL_S
        if not final and self.last is not None and now - self.last < interval:
            return
        self.last = now
        self.stream.write(f"\r{text}" if self.tty else f"{text}\n")
        self.stream.flush()
        self.shown = True

    def close(self):
        """Ends a redrawn line with its newline."""
        if self.tty and self.shown:
            self.stream.write("\n")
            self.stream.flush()
