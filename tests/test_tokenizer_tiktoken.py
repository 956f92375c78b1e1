"""The data plane encodes with tiktoken built from the trained BPE: the ids must be those of `tokenizers`, id for id, on
real source files, on hard Unicode and whitespace, and on special-token text; a tokenizer tiktoken cannot express, or a
text it cannot take, goes to `tokenizers` and is counted."""
import copy, json, random, re
from pathlib import Path

import numpy as np
import pytest
from tokenizers import normalizers, pre_tokenizers

import wizardlearner.packing as packing
from wizardlearner.packing import encode_texts, tokenize_stream
from wizardlearner.tokenizer import (PROBE_TEXTS, NotExpressible, bulk_encoding, reference_ids, tiktoken_encoding,
                                     train_tokenizer)

TRICKY = ["", " ", "\t" * 3000, "a" + " " * 20000 + "b", "x  \n\n  y\r\n\r\n", "x\u00a0y\u2028z\u2029w\u3000v\u0085u\u180et\u200bs",
          "\ufeffimport os", "é vs e\u0301, Å vs A\u030a", "日本語 한국어 中文 العربية עברית हिन्दी", "١٢٣ ٤٥٦ ⅫⅣ ½ ²³ ①",
          "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟘𝟙𝟚 𐀀", "🧙\u200d♂️🐍👍🏽 🇫🇷", "don't we'll I'M it's they're 've 'd", "\x00\x01\x1f\x7f",
          'tok = "<|endoftext|>"; chat = "<|im_start|>user\\n<|im_end|>"', "<|endoftext|><|endoftext|>", "<|endoftext"]


def _source_files(n=240):
    "The first `n` (sorted) source files of the standard library: the smoke corpus is made of such files."
    files = sorted(p for p in Path(json.__file__).resolve().parents[1].rglob('*.py') if p.stat().st_size < 200_000)[:n]
    return [p.read_text(encoding='utf-8', errors='replace') for p in files]


def _fuzz(n=400, seed=0):
    "Strings of random code points from every plane, mixed with ASCII code characters."
    rng, out = random.Random(seed), []
    for _ in range(n):
        cs = []
        for _ in range(rng.randrange(1, 40)):
            r = rng.random()
            c = rng.choice(" \t\n\r'sdmtlvre_(x1") if r < .4 else chr(rng.randrange(0x80, 0x3000)) if r < .7 else chr(rng.randrange(0x3000, 0x110000))
            if not 0xd800 <= ord(c) < 0xe000: cs.append(c)
        out.append(''.join(cs))
    return out


@pytest.fixture(scope='module')
def tok_and_texts():
    files = _source_files()
    tok = train_tokenizer(files[:120], 1024)
    return tok, files[120:] + TRICKY + _fuzz()


def test_tiktoken_gives_the_same_ids(tok_and_texts):
    tok, texts = tok_and_texts
    enc = tiktoken_encoding(tok, check=False)             # unchecked: this test is the check, on texts it never saw
    ref = reference_ids(tok, texts)
    diff = [t[:40] for t, r in zip(texts, ref) if enc.encode_ordinary(t) != r]
    assert not diff, f"{len(diff)} of {len(texts)} texts differ, e.g. {diff[:3]}"
    assert sum(map(len, ref)) > 50_000                    # a real sample, not a handful of tokens
    ctrl = reference_ids(tok, TRICKY, literal=False)      # special tokens as control tokens
    assert [enc.encode(t, allowed_special='all') for t in TRICKY] == ctrl and [0, 0] in ctrl
    assert bulk_encoding(tok)[0] is not None              # and the checked encoding the data plane uses exists


def test_data_plane_ids_and_backends(tok_and_texts):
    tok, texts = tok_and_texts
    items, stats = list(enumerate(texts)), {}
    fast = [(k, a.tolist(), s) for k, a, s in tokenize_stream(tok, items, workers=2, chunk_chars=1 << 16, stats=stats)]
    slow = [(k, a.tolist(), s) for k, a, s in tokenize_stream(tok, items, backend='tokenizers')]
    assert fast == slow
    assert stats['backend'] == 'tiktoken' and stats['texts'] == {'tiktoken': len(texts), 'tokenizers': 0}


def _out_of_order(tok):
    "A copy of `tok` whose first two merges swapped places (tiktoken would apply them by id, in the other order)."
    t = copy.deepcopy(tok)
    j = json.loads(t.backend_tokenizer.to_str())
    m = j['model']['merges']; m[0], m[1] = m[1], m[0]
    t._tokenizer = type(t.backend_tokenizer).from_str(json.dumps(j))
    return t


@pytest.mark.parametrize('change, why', [
    (lambda t: setattr(t.backend_tokenizer, 'normalizer', normalizers.NFKC()), 'normalizes text (NFKC)'),
    (lambda t: setattr(t.backend_tokenizer, 'pre_tokenizer', pre_tokenizers.Metaspace()), 'pre-tokenizer (Metaspace)'),
    (lambda t: t.add_tokens(['my_token']), 'added tokens that are not plain special tokens'),
    (None, 'merges do not make its tokens in id order')])
def test_what_tiktoken_cannot_run_falls_back(tok_and_texts, change, why):
    tok, texts = tok_and_texts
    if change is None: t = _out_of_order(tok)
    else: t = copy.deepcopy(tok); change(t)
    enc, reason = bulk_encoding(t)
    assert enc is None and why in reason
    with pytest.raises(NotExpressible): encode_texts(t, texts[:3], backend='tiktoken')
    counts = {}
    got = encode_texts(t, texts[:20], counts=counts)
    assert [a.tolist() for a in got] == reference_ids(t, texts[:20]) and counts == {'tiktoken': 0, 'tokenizers': 20}


def test_long_whitespace_goes_to_tokenizers(tok_and_texts, monkeypatch):
    tok = tok_and_texts[0]
    texts = ['x = 1\n', 'a' + ' \t' * 600_000 + 'b']                           # a run of 1.2M whitespace characters
    ref = reference_ids(tok, texts)
    counts = {}
    assert [a.tolist() for a in encode_texts(tok, texts, counts=counts)] == ref and counts == {'tiktoken': 1, 'tokenizers': 1}
    monkeypatch.setattr(packing, '_LONG_RUN', re.compile(r'(?!)'))             # no screening: tiktoken itself fails (a panic) ...
    counts = {}
    assert [a.tolist() for a in encode_texts(tok, texts, counts=counts)] == ref and counts == {'tiktoken': 1, 'tokenizers': 1}  # ... caught
