"""A reproducible, notebook-driven cookbook that trains a code LLM from scratch: corpus, dedup, annotator, pretrain, anneal, SFT, DPO, eval.

Modules:

- `wizardlearner.anneal`: The decay phase of the WSD schedule as an experiment: a grid of decay shapes, lengths, data mixes, re-warmup and repetition from one stable checkpoint, several seeds each, measured on four held-out sources through the decay, with the SFT that follows and Llama 3.1's annealing probe.
- `wizardlearner.decontamination`: Benchmark problems kept out of the training files, as OpenCoder does: a file is dropped when it holds most of one problem's 10-grams, or defines a benchmark's entry point with the same parameters and much of its solution.
- `wizardlearner.filters`: OpenCoder's file-level cleaning: decode the bytes, strip the license header, then ~50 named heuristic rules with the thresholds of its released configuration, the first failing rule being the reason a file is dropped.
- `wizardlearner.instructions`: Documented top-level Python functions mined as instruction pairs (docstring and signature as the instruction, the function as the response), with their doctests and imports, for the annotator, annealing, SFT and DPO.
- `wizardlearner.minhash`: Files as sets of 5-gram shingles of code tokens, hashed with NumPy; MinHash signatures of them (rensa's Rust R-MinHash by default, datasketch's affine32 in NumPy as the compatible reference); and the LSH shape (bands x rows) that decides which pairs become candidates.
- `wizardlearner.parallel`: `map(fn, items)` on worker processes with results in input order: forked workers inherit `fn` (a lambda or a closure will do), and the input is read a few chunks ahead of the results, never all at once.
- `wizardlearner.pii`: Personal data and secrets in code replaced by placeholders, as OpenCoder and StarCoder do: email addresses outside the example domains, globally routable IP addresses, keys and tokens (AWS, GitHub, Slack, private keys, `Bearer` credentials), and passwords (assigned, in shell and `.env` files, in connection URLs), each replacement counted by kind.
- `wizardlearner.pretrain`: Tokenize the deduplicated files with a freshly trained BPE, pack them language-then-repository into blocks, and run the warmup-stable phase of a WSD schedule on a Llama model; the decay is chapter 05's.
- `wizardlearner.sources`: Chapter 01's files as one record schema, wherever they come from: the language and kind of a file from its name, the installed code, a local folder of repositories, hub data sets streamed (The Stack v2 and v1, OpenWebMath), and the mix of sources a config names.
- `wizardlearner.trainer`: The one training engine of the book: Accelerate, AdamW, gradient accumulation and clipping, warmup-stable-decay schedules with four decay shapes and re-warmup, metrics, tokens/s and MFU, checkpoint and exact resume."""

__version__ = "0.1.0"
