"""Finding a data set's files: the data folder, and downloading what is
missing from public mirrors with pooch, each file checked against its known
hashes while it is still pooch's temporary file (a failed or corrupted
download never stays in the cache). When nothing can be downloaded, the
error says where to put the files by hand."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pooch  # type: ignore[import-untyped]

from .catalog import DATASETS
from .errors import DataError

logger = logging.getLogger("gnet.data")

DOWNLOAD_TIMEOUT_S = 60


def default_data_dir() -> Path:
    """``$GNET_DATA_DIR`` if set, else the platform's cache folder for gnet."""
    env = os.environ.get("GNET_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(pooch.os_cache("gnet"))


def dataset_entry(name: str) -> dict[str, Any]:
    """The DATASETS entry for *name*, or a DataError listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(DATASETS)
        raise DataError(f"unknown data set {name!r}; known data sets: {known}") from None


def fetch(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    mirrors: list[str] | None = None,
) -> dict[str, Path]:
    """Return the paths of the four files of data set *name*, downloading any missing.

    Keys: ``train_images``, ``train_labels``, ``test_images``, ``test_labels``.
    Files already in ``<data_dir>/<name>/`` (``.gz`` or uncompressed) are
    used as they are; *mirrors* (base URLs) replaces the built-in mirror list.
    """
    info = dataset_entry(name)
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    folder = root.expanduser().absolute() / name
    mirrors = info["mirrors"] if mirrors is None else list(mirrors)
    return {
        key: _locate(folder, entry, name, download, mirrors) for key, entry in info["files"].items()
    }


def _locate(
    folder: Path, entry: dict[str, Any], name: str, download: bool, mirrors: list[str]
) -> Path:
    """Find one file in *folder*, or download it there."""
    fname: str = entry["name"]
    for candidate in (folder / fname, folder / fname.removesuffix(".gz")):
        if candidate.is_file():
            if not _matches_known_hash(candidate, entry["hashes"]):
                logger.warning(
                    "%s: checksum matches no known %s file; using it after IDX validation",
                    candidate,
                    name,
                )
            return candidate
    if not download:
        raise DataError(
            f"{folder / fname}: not found (nor {fname.removesuffix('.gz')}); "
            "allow downloading, or, " + offline_hint(folder)
        )
    return _download(folder, entry, mirrors)


def _matches_known_hash(path: Path | str, known_hashes: list[str]) -> bool:
    """True if the file's hash equals any known one; each algorithm runs at most once."""
    computed: dict[str, str] = {}
    for known in known_hashes:
        algorithm, _, value = known.partition(":")
        if algorithm not in computed:
            computed[algorithm] = pooch.file_hash(str(path), alg=algorithm)
        if computed[algorithm] == value.lower():
            return True
    return False


class _VerifyingDownloader:
    """pooch's HTTP downloader followed by a check against every known hash.

    ``pooch.retrieve`` accepts one known hash, but a file may have several
    (upstream's and Debian's Fashion-MNIST .gz differ). The check runs while
    the download is still pooch's temporary file: raising here makes pooch
    delete it, so a corrupted download never reaches the cache.
    """

    def __init__(self, known_hashes: list[str]):
        self.known_hashes = known_hashes
        self.http = pooch.HTTPDownloader(
            progressbar=False, timeout=DOWNLOAD_TIMEOUT_S, chunk_size=1 << 16
        )

    def __call__(
        self, url: str, output_file: Any, pooch_instance: Any, check_only: bool = False
    ) -> Any:
        result = self.http(url, output_file, pooch_instance, check_only=check_only)
        if not check_only and not _matches_known_hash(output_file, self.known_hashes):
            raise ValueError("checksum matches no known hash (corrupted or incomplete download)")
        return result


def _download(folder: Path, entry: dict[str, Any], mirrors: list[str]) -> Path:
    """Download one file into *folder*, trying each mirror until one gives a good file."""
    fname = entry["name"]
    downloader = _VerifyingDownloader(entry["hashes"])
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + fname
        logger.info("downloading %s to %s", url, folder)
        try:
            with _quiet_pooch():
                path = pooch.retrieve(
                    url, known_hash=None, fname=fname, path=folder, downloader=downloader
                )
            return Path(path)
        except (OSError, ValueError) as exc:  # requests' errors are OSErrors
            reason = _download_failure(exc)
            logger.warning("download of %s failed: %s", url, reason)
            failures.append(f"{url}: {reason}")
    tried = "; ".join(failures) if failures else "no mirrors given"
    raise DataError(
        f"{folder / fname}: download failed from every mirror: {tried}; " + offline_hint(folder)
    )


def offline_hint(folder: Path) -> str:
    """How to run without a network: where to put the files, and their names."""
    name = folder.name
    files = DATASETS[name]["files"].values() if name in DATASETS else []
    names = ", ".join(entry["name"] for entry in files)
    return (
        f"to work offline, copy the four {name} IDX files ({names}; .gz or uncompressed) "
        f"into {folder}, or into DIR/{name}/ and pass --data-dir DIR (or set GNET_DATA_DIR=DIR)"
    )


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Hold back pooch's INFO lines, which its own handler writes to stderr.

    The library never prints; it logs the same events through its own logger.
    """
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pooch_logger.setLevel(level)


def _download_failure(exc: Exception) -> str:
    """A few words on why a mirror failed, instead of requests' long messages."""
    import requests  # pooch's dependency; imported late as pooch does

    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}".strip()
    if isinstance(exc, requests.Timeout):
        return f"no answer within {DOWNLOAD_TIMEOUT_S} s"
    if isinstance(exc, requests.ConnectionError):
        errno_text = re.search(r"\[Errno -?\d+\] [^'\")]*", str(exc))
        return "cannot connect" + (f" ({errno_text.group(0)})" if errno_text else "")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection closed before the whole file arrived"
    return one_line(exc)


# --------------------------------------------------------------------------- load


def one_line(exc: BaseException) -> str:
    """An exception's message squeezed onto one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
