"""Checksum-verified downloads into the cache (``PYSERINI_DR_CACHE``, default ``~/.cache/pyserini_dr``)."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request

from ..errors import InputError


def cache_dir(*parts: str) -> str:
    root = os.environ.get("PYSERINI_DR_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "pyserini_dr")
    path = os.path.join(root, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def file_digests(path, algorithms) -> dict[str, str]:
    """algorithm -> hex digest of the file, every algorithm in one read."""
    hashes = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            for h in hashes.values():
                h.update(block)
    return {algorithm: h.hexdigest() for algorithm, h in hashes.items()}


def download(urls: list[str], md5: str, destination: str, *, size: int | None = None, sha256: str | None = None,
             timeout: float = 30) -> str:
    """Fetch the first URL that answers into ``destination``, verifying size, md5 and (when given) sha256; returns
    the path.

    A file already there with the right digests is reused. The digests are computed from the blocks as they
    arrive (no second read of a large archive). The download goes to a temporary name and is renamed only once
    verified, so a corrupted or truncated transfer never sits in the cache.
    """
    from ..progress import progress

    expected = {"md5": md5, **({"sha256": sha256} if sha256 else {})}
    if os.path.exists(destination) and file_digests(destination, expected) == expected:
        return destination
    import http.client
    import tempfile

    directory = os.path.dirname(os.path.abspath(destination))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(destination) + ".", suffix=".part", dir=directory)
    os.close(fd)  # one temporary name per process: concurrent ranks never write the same file
    failures, refused = [], []
    for url in urls:
        hashes = {algorithm: hashlib.new(algorithm) for algorithm in expected}
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or size
                with progress(total=total, unit="B", unit_scale=True, desc=os.path.basename(destination)) as bar:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        out.write(block)
                        for h in hashes.values():
                            h.update(block)
                        bar.update(len(block))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {getattr(e, 'reason', e)}")
            continue
        got_size = os.path.getsize(tmp)
        got = {algorithm: h.hexdigest() for algorithm, h in hashes.items()}
        wrong = [algorithm for algorithm in expected if got[algorithm] != expected[algorithm]]
        if size is not None and got_size != size:
            refused.append(f"download of {url} is {got_size:,} bytes, expected {size:,}: refused (truncated?)")
        elif wrong:
            a = wrong[0]
            refused.append(f"checksum mismatch for {url}: {a} {got[a]}, expected {expected[a]}: refused")
        else:
            os.replace(tmp, destination)
            return destination
        # a bad copy on one mirror: try the next
    if os.path.exists(tmp):
        os.remove(tmp)
    if refused:
        raise InputError("; ".join(refused + failures))
    raise InputError("could not download " + "; ".join(failures))
