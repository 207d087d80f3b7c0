# Cross-checks gpt2_expected.jsonl against OpenAI's original GPT-2 encoder.py algorithm
# (Python + the `regex` module, as GPT-2 shipped it), using vocab.json/merges.txt beside this file.
# Usage: python3 check_expected.py   (needs `pip install regex`)
import json, os, regex
from functools import lru_cache

here = os.path.dirname(os.path.abspath(__file__))

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))

encoder = json.load(open(os.path.join(here, "vocab.json"), encoding="utf-8"))
merges = open(os.path.join(here, "merges.txt"), encoding="utf-8").read().split("\n")[1:-1]
ranks = {tuple(m.split()): i for i, m in enumerate(merges)}
byte_encoder = bytes_to_unicode()
pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

def get_pairs(word):
    return set(zip(word, word[1:]))

@lru_cache(maxsize=None)
def bpe(token):
    word = tuple(token)
    pairs = get_pairs(word)
    if not pairs:
        return token
    while True:
        bigram = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
        if bigram not in ranks:
            break
        first, second = bigram
        new_word = []
        i = 0
        while i < len(word):
            try:
                j = word.index(first, i)
                new_word.extend(word[i:j])
                i = j
            except ValueError:
                new_word.extend(word[i:])
                break
            if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                new_word.append(first + second)
                i += 2
            else:
                new_word.append(word[i])
                i += 1
        word = tuple(new_word)
        if len(word) == 1:
            break
        pairs = get_pairs(word)
    return " ".join(word)

def encode(text):
    ids = []
    for token in regex.findall(pat, text):
        token = "".join(byte_encoder[b] for b in token.encode("utf-8"))
        ids.extend(encoder[t] for t in bpe(token).split(" "))
    return ids

bad = 0
rows = 0
for line in open(os.path.join(here, "gpt2_expected.jsonl"), encoding="utf-8"):
    row = json.loads(line)
    rows += 1
    got = encode(row["text"])
    if got != row["ids"]:
        bad += 1
        print("differ:", json.dumps(row["text"]), "\n  expected", row["ids"], "\n  encoder.py", got)
print(f"{rows - bad} agree, {bad} differ")
