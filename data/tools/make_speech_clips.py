"""How ``data/speech_clips.npz`` was made (run once; the result is committed).

Source: Debian's ``asterisk-core-sounds-en-wav`` package, the English prompts of the Asterisk
telephone system recorded by Allison Smith (Copyright 2003-2010 Allison Smith, financial
contributions by Digium, Inc.), licence CC BY-SA 3.0. The files are already 8 kHz, 16-bit,
mono WAV; they are copied unchanged (no resampling), one array per recording. The course
never needs the package: this script documents the extract and lets anyone rebuild it.

The clips: the spoken digits "zero" to "nine" and the phrase "hello world".

    python data/tools/make_speech_clips.py [SOURCE_DIR]
"""

from __future__ import annotations

import pathlib
import sys
import wave

import numpy as np

SOURCE = pathlib.Path("/usr/share/asterisk/sounds/en_US_f_Allison")
TARGET = pathlib.Path(__file__).resolve().parents[1] / "speech_clips.npz"
CLIPS = {**{f"digit_{d}": f"digits/{d}.wav" for d in range(10)}, "hello_world": "hello-world.wav"}
RATE = 8000


def read_wav(path: pathlib.Path) -> np.ndarray:
    with wave.open(str(path)) as f:
        if (f.getframerate(), f.getsampwidth(), f.getnchannels()) != (RATE, 2, 1):
            raise ValueError(f"{path}: expected 8 kHz 16-bit mono, got {f.getparams()}")
        return np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").astype(np.int16)


def main(source: pathlib.Path = SOURCE) -> None:
    arrays = {name: read_wav(source / rel) for name, rel in CLIPS.items()}
    np.savez_compressed(TARGET, sample_rate=np.int64(RATE), **arrays)
    seconds = sum(len(a) for a in arrays.values()) / RATE
    print(f"wrote {TARGET}: {len(arrays)} clips, {seconds:.1f} s of speech at {RATE} Hz")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
