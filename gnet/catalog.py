"""The data sets gnet knows: file names, known hashes, download mirrors,
class names and image shape. :mod:`gnet.data` reads and checks the files."""

from __future__ import annotations

from typing import Any

_FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def _files(hashes: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Pair each file key with its file name and its known hashes."""
    return {key: {"name": _FILE_NAMES[key], "hashes": hashes[key]} for key in _FILE_NAMES}


# Known hashes, in pooch's "algorithm:value" form. A file matching any of them
# is genuine. Each list holds the hashes of the .gz (SHA-256 from
# shared/data/README.md, and MD5s of the original or upstream .gz) and the MD5
# of the decompressed file, so hand-placed uncompressed files are recognised too.
DATASETS: dict[str, dict[str, Any]] = {
    "mnist": {
        "files": _files(
            {
                "train_images": [
                    "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                    "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
                    "md5:6bbc9ace898e44ae57da46a324031adb",
                ],
                "train_labels": [
                    "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                    "md5:d53e105ee54ea40749a09fcbcd1e9432",
                    "md5:a25bea736e30d166cdddb491f175f624",
                ],
                "test_images": [
                    "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                    "md5:9fb629c4189551a2d022fa330f9573f3",
                    "md5:2646ac647ad5339dbf082846283269ea",
                ],
                "test_labels": [
                    "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                    "md5:ec29112dd5afa0611ce80d1b7f02629c",
                    "md5:27ae3e4e09519cfbb04c329615203637",
                ],
            }
        ),
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "class_names": [str(digit) for digit in range(10)],
        "image_shape": (28, 28),
    },
    "fashion-mnist": {
        # SHA-256: Debian's recompressed .gz (as in shared/data); first MD5: the
        # upstream .gz (the mirrors below serve these); second MD5: decompressed.
        "files": _files(
            {
                "train_images": [
                    "sha256:b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                    "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                    "md5:f4a8712d7a061bf5bd6d2ca38dc4d50a",
                ],
                "train_labels": [
                    "sha256:0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                    "md5:25c81989df183df01b3e8a0aad5dffbe",
                    "md5:9018921c3c673c538a1fc5bad174d6f9",
                ],
                "test_images": [
                    "sha256:cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                    "md5:bef4ecab320f06d8554ea6380940ec79",
                    "md5:8181f5470baa50b63fa0f6fddb340f0a",
                ],
                "test_labels": [
                    "sha256:8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                    "md5:bb300cfdad3c16e7a12a480ee83cd310",
                    "md5:15d484375f8d13e6eb1aabb0c3f46965",
                ],
            }
        ),
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ],
        "class_names": [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
        "image_shape": (28, 28),
    },
}
