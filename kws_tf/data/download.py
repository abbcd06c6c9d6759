"""Fetching and unpacking the Speech Commands archive (``--data_url``).

Unlike Hello Edge, which re-extracted the archive on every run, extraction
leaves a marker file, so a second run with the same flags starts at once.
Downloads go to a temporary name first: an interrupted one is never mistaken
for a complete archive.
"""
import os
import sys
import tarfile
import time
import urllib.parse
import urllib.request

from kws_tf import progress as kws_progress
from kws_tf.errors import KwsError


def _marker(data_dir, archive_name):
    return os.path.join(data_dir, f".extracted-{archive_name}")


def _download(url, target, progress):
    partial = target + ".part"
    start = time.time()
    line = kws_progress.StatusLine()

    def report(blocks, block_size, total):
        if progress and total > 0:
            done = min(blocks * block_size, total)
            line.show(f">> downloading {os.path.basename(target)} {100.0 * done / total:.1f}%",
                      final=done == total)

    try:
        urllib.request.urlretrieve(url, partial, reporthook=report)
    except (OSError, ValueError) as error:
        if os.path.exists(partial):
            os.remove(partial)
        raise KwsError(f"--data_url {url}: download failed ({error})") from None
    line.close()
    os.replace(partial, target)
    size = os.path.getsize(target)
    print(f"downloaded {target} ({size} bytes in {time.time() - start:.1f} s)", file=sys.stderr)


def maybe_download_and_extract(data_url, data_dir, progress=True):
    """Downloads `data_url` into `data_dir` and extracts it there, unless already done.

    An empty `data_url` means `data_dir` is used as it is (Hello Edge's meaning).
    Returns the archive path, or None when nothing was fetched.
    """
    if not data_url:
        return None
    archive_name = os.path.basename(urllib.parse.urlparse(data_url).path)
    if not archive_name:
        raise KwsError(f"--data_url {data_url}: the URL does not end in a file name")
    try:
        os.makedirs(data_dir, exist_ok=True)
    except OSError as error:
        raise KwsError(f"--data_dir {data_dir}: cannot create it ({error.strerror})") from None
    marker = _marker(data_dir, archive_name)
    archive_path = os.path.join(data_dir, archive_name)
    if os.path.exists(marker):
        return archive_path
    if not os.path.exists(archive_path):
        _download(data_url, archive_path, progress)
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            # "data" refuses absolute paths, ../ escapes and links out of data_dir.
            archive.extractall(data_dir, filter="data")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise KwsError(f"{archive_path}: cannot extract ({error}); delete it to download again") \
            from None
    with open(marker, "w") as stream:
        stream.write(data_url + "\n")
    return archive_path
