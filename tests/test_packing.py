"""Pretraining data on disk: the token shards hold exactly the blocks the in-memory packing made, the sampler resumes
and splits across processes without changing a batch, and a failed write leaves nothing that looks finished."""
import random
from itertools import islice

import numpy as np
import pytest
import torch

from wizardlearner.core import Ledger, get_preset, read_jsonl, write_jsonl
from wizardlearner.packing import (BlockBatches, BlockWriter, EpochBatches, TokenBlocks, order_documents, pack_documents,
                                   pack_to_shards, pad_collate, tokenize_documents, tokenize_stream)
from wizardlearner.pretrain import PretrainConfig, prepare_data, split_validation
from wizardlearner.stages import DedupOutputs
from wizardlearner.tokenizer import bulk_encoding, train_tokenizer


def _records(n=60, seed=0):
    "Files of three languages in several repositories, one of them spelling special tokens, one empty."
    rng = random.Random(seed)
    langs = [('Python', 'py'), ('C', 'c'), ('JavaScript', 'js')]
    recs = []
    for i in range(n):
        lang, ext = langs[i % 3]
        repo = f"org{rng.randrange(4)}/{lang.lower()}-{rng.randrange(3)}"
        body = '\n'.join(f"value_{i}_{j} = {rng.randrange(10 ** rng.randrange(1, 6))}  # {lang}" for j in range(rng.randrange(1, 12)))
        recs.append(dict(id=f"{repo}/f{i}.{ext}", repo=repo, language=lang, content=body + '\n'))
    recs[7]['content'] = 'START, END, EOS = "<|im_start|>", "<|im_end|>", "<|endoftext|>"\n'
    recs[11]['content'] = '   \n'
    return recs


def _old_path(recs, cfg, seed):
    "Chapter 04's data step before the token shards and tiktoken: everything in memory, `tokenizers` encoding (kept here as the reference)."
    led_files, led_tokens = Ledger('files'), Ledger('tokens')
    nonempty = [r for r in recs if (r.get('content') or '').strip()]
    led_files.add_in(len(recs) - len(nonempty)); led_files.drop('empty', len(recs) - len(nonempty))
    train, val = split_validation(nonempty, cfg.val_fraction, cfg.min_val_files, seed=seed)
    led_files.add_in(len(val)); led_files.drop('held_out_for_validation', len(val))
    tok = train_tokenizer((r['content'] for r in train[:cfg.tokenizer_max_files]), cfg.vocab_size, model_max_length=cfg.seq_len)
    esc = {'train': [], 'val': []}
    # encoded by `tokenizers` (the reference): the data step's tiktoken encoding must give the very same blocks
    blocks = pack_documents(tokenize_documents(tok, order_documents(train, seed=seed), led_files, escaped=esc['train'], backend='tokenizers'),
                            cfg.seq_len, tok.eos_token_id, led_tokens)
    val_blocks = pack_documents(tokenize_documents(tok, order_documents(val, seed=seed), escaped=esc['val'], backend='tokenizers'),
                                cfg.seq_len, tok.eos_token_id)
    return tok, blocks, val_blocks, esc, val, [led_files, led_tokens]


@pytest.mark.parametrize('workers', [1, 2])
def test_token_shards_hold_the_in_memory_blocks(tmp_path, workers):
    recs = _records()
    write_jsonl(tmp_path/'files.jsonl.gz', recs)
    cfg = PretrainConfig(vocab_size=320, seq_len=32, min_val_files=6, tokenizer_max_files=30)
    P = get_preset('smoke')
    tok, blocks, val_blocks, esc, val, ledgers = _old_path(recs, cfg, P.seed)
    out = tmp_path/'out'; out.mkdir()
    data = prepare_data(P, cfg, DedupOutputs(None, files=tmp_path/'files.jsonl.gz'), out, workers=workers)
    assert data.tokenizer.backend_tokenizer.to_str() == tok.backend_tokenizer.to_str()   # the same BPE from a stream in file order
    assert bulk_encoding(data.tokenizer)[0] is not None                                  # ... which the data step encoded with tiktoken
    assert torch.equal(torch.as_tensor(np.asarray(data.blocks, dtype=np.int64)), blocks)  # same tokens, same order, same tail rule
    assert torch.equal(torch.as_tensor(np.asarray(data.val_blocks, dtype=np.int64)), val_blocks)
    assert data.escaped == esc and sum(map(len, esc.values())) == 1
    assert [lg.as_dict() for lg in data.ledgers] == [lg.as_dict() for lg in ledgers]
    assert [r['id'] for r in read_jsonl(out/'val.jsonl.gz')] == [r['id'] for r in val]  # held-out files, split order
    assert data.blocks.dtype == np.uint16 and sorted(p.name for p in out.iterdir()) == ['tokenizer', 'train_blocks', 'val.jsonl.gz', 'val_blocks']
    docs = data.blocks.docs   # the document index: each document's tokens, then <|endoftext|>
    flat = np.asarray(data.blocks).reshape(-1)
    for d in docs[:5]:
        rec = recs[d['row']]
        assert flat[d['start'] + d['length']] == tok.eos_token_id
        assert tok.decode(flat[d['start']:d['start'] + d['length']].tolist()) == rec['content']


def test_many_shards_same_blocks(tmp_path):
    tok = train_tokenizer([r['content'] for r in _records()], 300)
    docs = [ids for _, ids, _ in tokenize_stream(tok, ((i, r['content']) for i, r in enumerate(_records())), workers=2, chunk_chars=200)]
    tb = pack_to_shards(docs, tmp_path/'b', seq_len=16, eos_id=tok.eos_token_id, vocab_size=len(tok), shard_tokens=16 * 5)
    ref = pack_documents([d.tolist() for d in docs], 16, tok.eos_token_id)
    assert len(tb.meta['shards']) > 3
    assert torch.equal(torch.as_tensor(tb[:].astype(np.int64)), ref)
    idx = torch.randperm(len(ref), generator=torch.Generator().manual_seed(0))[:20]
    assert torch.equal(torch.as_tensor(tb[idx].astype(np.int64)), ref[idx])          # gathered across shards
    assert torch.equal(torch.as_tensor(tb[len(ref) - 1].astype(np.int64)), ref[-1])
    with pytest.raises(IndexError): tb[len(ref)]


def _plain(batches, n):
    return [b['input_ids'].tolist() for b in islice(iter(batches), n)]


@pytest.mark.parametrize('make', ['blocks', 'token_shards', 'epoch_batches'])
def test_iter_from_is_a_slice_of_the_plain_stream(tmp_path, make):
    if make == 'epoch_batches':
        items = [dict(input_ids=[i] * (1 + i % 5), labels=[i] * (1 + i % 5)) for i in range(23)]
        bb = EpochBatches(items, 4, lambda xs: pad_collate(xs, 0), seed=3, lengths=[len(x['input_ids']) for x in items])
    else:
        blocks = torch.arange(23 * 4).view(23, 4)
        if make == 'token_shards':
            blocks = pack_to_shards([list(range(23 * 4 - 1))], tmp_path/'b', 4, 23 * 4 - 1, 100, shard_tokens=4 * 6)
        bb = BlockBatches(blocks, 4, seed=3)
    n = len(bb)   # 5 per epoch
    plain = _plain(bb, 6 * n)
    for start in (0, 1, n - 1, n, 2 * n + 3):
        for rank in (0, 1):
            got = [b['input_ids'].tolist() for b in islice(bb.iter_from(start, rank, 2), 6)]
            assert got == plain[start + rank::2][:6], (start, rank)
    assert [b['input_ids'].tolist() for b in islice(bb.iter_from(7), 5)] == plain[7:12]
    assert bb.batch_size == 4


def test_iter_from_never_builds_skipped_batches():
    calls = []
    bb = BlockBatches(torch.arange(40).view(20, 2), 2, seed=0)
    built = bb.batch
    bb.batch = lambda idx: calls.append(1) or built(idx)
    next(bb.iter_from(10 ** 6, 1, 8))
    assert len(calls) == 1


def test_block_writer_is_atomic(tmp_path):
    path = tmp_path/'blocks'
    first = pack_to_shards([[1, 2, 3]] * 4, path, 4, 0, 10)
    w = BlockWriter(path, 4, 0, 10)
    w.add([5, 6, 7, 8, 9] * 10)
    w._flush()                                             # the new shards are on disk, beside the old folder
    assert TokenBlocks(path)[:].tolist() == first[:].tolist()   # readers still see the finished old folder
    with pytest.raises(RuntimeError):
        with w: raise RuntimeError('killed half-way')
    assert sorted(p.name for p in tmp_path.iterdir()) == ['blocks']            # nothing partial left behind
    assert TokenBlocks(path)[:].tolist() == first[:].tolist()
    second = pack_to_shards([[4, 4, 4]] * 4, path, 4, 0, 10)                  # a finished write replaces it whole
    assert second[:].tolist() == [[4, 4, 4, 0]] * 4 and sorted(p.name for p in tmp_path.iterdir()) == ['blocks']
