"""How ``data/wordnet_extract.json`` was made (run once; the result is committed).

Source: Debian's ``wordnet-base`` package (WordNet 3.0, Princeton University, WordNet 3.0
licence, which allows copying and redistribution with its notice), installed under
``/usr/share/wordnet/``. The course never needs the package: this script documents the
extract and lets anyone rebuild it.

The extract holds

* ``sentences``: a seeded sample of the example sentences that WordNet prints in its glosses
  (the quoted parts after the definition), 6 to 16 words of lower-case letters;
* ``synonyms``: for every content word of those sentences that WordNet knows, the other
  single-word lemmas of its two most frequent senses (in WordNet's sense order), at most 8;
* ``license``: WordNet's notice, which the licence asks to keep on every copy.

    python data/tools/make_wordnet_extract.py [SOURCE_DIR]
"""

from __future__ import annotations

import json
import pathlib
import re
import sys

import numpy as np

SOURCE = pathlib.Path("/usr/share/wordnet")
TARGET = pathlib.Path(__file__).resolve().parents[1] / "wordnet_extract.json"
SEED = 1995
N_SENTENCES = 300
POS = ("noun", "verb", "adj", "adv")
STOPWORDS = set("""a an the and or but if of to in on at by for with from as is are was were be
been being it its this that these those he she they we you i me him her them us my his their our
your not no do does did have has had will would can could should may might must shall there here
than then so such very too also just only into out up down over about what which who whom whose
when where why how all any some each every both either neither one two more most other another
same own s""".split())
NOTICE = (
    "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. "
    "THIS SOFTWARE AND DATABASE IS PROVIDED \"AS IS\" AND PRINCETON UNIVERSITY MAKES NO "
    "REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. BY WAY OF EXAMPLE, BUT NOT LIMITATION, "
    "PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR WARRANTIES OF MERCHANTABILITY OR FITNESS "
    "FOR ANY PARTICULAR PURPOSE OR THAT THE USE OF THE LICENSED SOFTWARE, DATABASE OR "
    "DOCUMENTATION WILL NOT INFRINGE ANY THIRD PARTY PATENTS, COPYRIGHTS, TRADEMARKS OR OTHER "
    "RIGHTS. The name of Princeton University or Princeton may not be used in advertising or "
    "publicity pertaining to distribution of the software and/or database. Title to copyright "
    "in this software, database and any associated documentation shall at all times remain "
    "with Princeton University and LICENSEE agrees to preserve same. "
    "Permission to use, copy, modify and distribute this software and database and its "
    "documentation for any purpose and without fee or royalty is hereby granted, provided that "
    "you agree to comply with the following copyright notice and statements, including the "
    "disclaimer, and that the same appear on ALL copies of the software, database and "
    "documentation, including modifications that you make for internal use or for distribution.")


def data_lines(path: pathlib.Path):
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.startswith("  "):  # the licence header lines start with two spaces
            yield line


def read_synsets(source: pathlib.Path):
    """{(pos, offset): [lemmas]} and the example sentences of all glosses."""
    synsets, examples = {}, []
    for pos in POS:
        for line in data_lines(source / f"data.{pos}"):
            head, _, gloss = line.partition(" | ")
            fields = head.split()
            n_words = int(fields[3], 16)
            lemmas = [re.sub(r"\(.*\)$", "", w).lower() for w in fields[4:4 + 2 * n_words:2]]
            synsets[pos, fields[0]] = lemmas
            examples += re.findall(r'"([^"]+)"', gloss)
    return synsets, examples


def read_index(source: pathlib.Path):
    """{word: [(pos, offset), ...]} in WordNet's sense order (most frequent first), per pos."""
    index = {}
    for pos in POS:
        for line in data_lines(source / f"index.{pos}"):
            fields = line.split()
            n_synsets = int(fields[2])
            offsets = fields[-n_synsets:]
            index.setdefault(fields[0], []).append([(pos, o) for o in offsets])
    return index


def main(source: pathlib.Path = SOURCE) -> None:
    synsets, examples = read_synsets(source)
    index = read_index(source)
    clean = sorted({e.strip().lower() for e in examples
                    if re.fullmatch(r"[A-Za-z ,']+", e.strip())
                    and 6 <= len(e.split()) <= 16})
    rng = np.random.default_rng(SEED)
    sentences = [clean[i] for i in sorted(rng.choice(len(clean), N_SENTENCES, replace=False))]
    synonyms = {}
    for sentence in sentences:
        for word in re.findall(r"[a-z]+", sentence):
            if word in STOPWORDS or word in synonyms or word not in index:
                continue
            found = []
            for senses in index[word]:
                for key in senses[:2]:
                    for lemma in synsets[key]:
                        if "_" not in lemma and "-" not in lemma and lemma != word and lemma not in found:
                            found.append(lemma)
            if found:
                synonyms[word] = found[:8]
    out = {"source": "WordNet 3.0 (Princeton University), Debian package wordnet-base",
           "license": NOTICE, "sentences": sentences, "synonyms": dict(sorted(synonyms.items()))}
    TARGET.write_text(json.dumps(out, indent=0, ensure_ascii=True) + "\n", encoding="utf-8")
    print(f"wrote {TARGET}: {len(sentences)} sentences, {len(synonyms)} words with synonyms")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else SOURCE)
