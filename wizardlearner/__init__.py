"""A reproducible, notebook-driven cookbook that trains a code LLM from scratch: corpus, dedup, annotator, pretrain, anneal, SFT, DPO, eval.

Modules:

- `wizardlearner.anneal`: The decay phase of the WSD schedule, run from the stable checkpoint once per decay shape on a mix of the original distribution, the annotator's high-quality files and ChatML instruction data; the best by held-out loss goes on.
- `wizardlearner.pretrain`: Tokenize the deduplicated files with a freshly trained BPE, pack them language-then-repository into blocks, and run the warmup-stable phase of a WSD schedule on a Llama model; the decay is chapter 05's.
- `wizardlearner.trainer`: The one training engine of the book: Accelerate, AdamW, gradient accumulation and clipping, warmup-stable-decay schedules with four decay shapes and re-warmup, metrics, tokens/s and MFU, checkpoint and exact resume."""

__version__ = "0.1.0"
