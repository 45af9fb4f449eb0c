"""Small real text and audio samples that ship with the course (see ``data/README.md``).

The regularization chapter uses them to show data augmentation beyond images; nothing is
downloaded, and neither the Debian packages they come from nor any audio library is needed.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np

from coursekit.datasets import DATA_DIR


class WordNetExtract(NamedTuple):
    """Example sentences and a synonym table taken from WordNet 3.0 (Princeton University)."""

    sentences: list
    synonyms: dict
    license: str


def wordnet_extract() -> WordNetExtract:
    """300 example sentences from WordNet's glosses and synonyms for their content words.

    ``synonyms`` maps a lower-case word to the other single-word lemmas of its two most
    frequent senses (``data/tools/make_wordnet_extract.py`` says how they were chosen).
    """
    path = DATA_DIR / "wordnet_extract.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the WordNet extract ships with the repository")
    data = json.loads(path.read_text(encoding="utf-8"))
    return WordNetExtract(data["sentences"], data["synonyms"], data["license"])


def speech_clips() -> tuple[int, dict]:
    """Short real speech recordings (8 kHz mono): ``(sample_rate, {name: float32 waveform})``.

    Names are ``digit_0`` ... ``digit_9`` (the spoken digits) and ``hello_world``; samples
    are scaled from 16-bit integers to [-1, 1). Recorded by Allison Smith for the Asterisk
    project, CC BY-SA 3.0.
    """
    path = DATA_DIR / "speech_clips.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the speech clips ship with the repository")
    with np.load(path) as data:
        rate = int(data["sample_rate"])
        clips = {k: data[k].astype(np.float32) / 32768.0 for k in data.files if k != "sample_rate"}
    return rate, clips
