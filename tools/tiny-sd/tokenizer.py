"""A CLIP-style byte-level BPE tokenizer (end-of-word suffix </w>) trained on the world's captions.

Files follow the layout of openai/clip-vit-* tokenizers: vocab.json (256 byte symbols, the same
with </w>, then one token per merge, then <|startoftext|> and <|endoftext|> as the two highest
ids), merges.txt ("#version: 0.2" header), tokenizer.json (HF tokenizers), tokenizer_config.json.
"""
import json
import os
import re
from collections import Counter

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_LENGTH = 77
# CLIP's pre-tokenizer pattern (with \p{L}/\p{N}); the Python encoder below uses an ASCII
# equivalent because the captions are ASCII.
CLIP_PATTERN = r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"
ASCII_PATTERN = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-zA-Z]+|[0-9]|[^\sa-zA-Z0-9]+")


def bytes_to_unicode():
    """GPT-2/CLIP byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def pretokenize(text):
    text = re.sub(r"\s+", " ", text).strip().lower()
    return [ "".join(BYTE_ENCODER[b] for b in w.encode("utf-8")) for w in ASCII_PATTERN.findall(text)]


def train_merges(text):
    """Standard BPE: merge the most frequent adjacent pair until every word is one symbol."""
    words = Counter(pretokenize(text))
    splits = {w: list(w[:-1]) + [w[-1] + "</w>"] for w in words}
    merges = []
    while True:
        pairs = Counter()
        for w, f in words.items():
            s = splits[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += f
        if not pairs:
            return merges
        best = max(sorted(pairs), key=lambda p: pairs[p])  # ties: lexicographically first
        merges.append(best)
        for w in words:
            s, out, i = splits[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            splits[w] = out


def build_vocab(merges):
    symbols = list(BYTE_ENCODER.values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
    return {tok: i for i, tok in enumerate(vocab)}


class ClipTokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.bos, self.eos = vocab[BOS], vocab[EOS]

    def bpe(self, word):
        s = list(word[:-1]) + [word[-1] + "</w>"]
        while len(s) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(s, s[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            a, b = s[i], s[i + 1]
            out, j = [], 0
            while j < len(s):
                if j + 1 < len(s) and s[j] == a and s[j + 1] == b:
                    out.append(a + b)
                    j += 2
                else:
                    out.append(s[j])
                    j += 1
            s = out
        return s

    def encode(self, text, pad=True):
        ids = [self.bos]
        for w in pretokenize(text):
            ids += [self.vocab[t] for t in self.bpe(w)]
        ids = ids[: MAX_LENGTH - 1] + [self.eos]
        if pad:
            ids += [self.eos] * (MAX_LENGTH - len(ids))  # SD pads with <|endoftext|>
        return ids


def save(out_dir, vocab, merges):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    special = {"bos_token": BOS, "eos_token": EOS, "pad_token": EOS, "unk_token": EOS}
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    config = {"add_prefix_space": False, "do_lower_case": True, "errors": "replace",
              "model_max_length": MAX_LENGTH, "tokenizer_class": "CLIPTokenizer", **special}
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": True, "special": True} for t in (BOS, EOS)]
    tj = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "NFC"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
            {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": CLIP_PATTERN}, "behavior": "Removed", "invert": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "RobertaProcessing", "sep": [EOS, vocab[EOS]], "cls": [BOS, vocab[BOS]],
                           "trim_offsets": False, "add_prefix_space": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": EOS, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }
    with open(os.path.join(out_dir, "tokenizer.json"), "w") as f:
        json.dump(tj, f, ensure_ascii=False)


def load(out_dir):
    with open(os.path.join(out_dir, "vocab.json")) as f:
        vocab = json.load(f)
    with open(os.path.join(out_dir, "merges.txt")) as f:
        merges = [tuple(l.split()) for l in f.read().splitlines()[1:] if l]
    return ClipTokenizer(vocab, merges)
