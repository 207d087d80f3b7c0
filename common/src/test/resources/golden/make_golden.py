#!/usr/bin/python3
"""Golden fixture for rlhf.model.Gpt2GoldenTest: a tiny GPT-2 computed by an independent PyTorch
implementation of the Hugging Face GPT2LMHeadModel / GPT2ForSequenceClassification math.

Written from the published math (transformers' modeling_gpt2.py, GPT2Config defaults), not from
our Java code: token + learned position embeddings; pre-LN blocks x += attn(ln_1(x)),
x += mlp(ln_2(x)); Conv1D layers y = x @ W + b with W stored [in, out]; causal attention with
scores q.k / sqrt(hs) (masked entries -> finfo.min, as HF does); MLP GELU "gelu_new" (tanh
approximation); ln_f; LM head tied to wte; LayerNorm eps 1e-5 with the biased variance; the LM
loss is HF's shifted mean cross-entropy; the sequence-classification score is
score.weight [1, C] (no bias) applied to the hidden state of the last token.

Run with Debian's python + torch (no other dependency; safetensors written by hand):
    /usr/bin/python3 make_golden.py            (rewrites the files below, next to the script)

Writes, next to this script:
  lm/model.safetensors     hub gpt2 layout: plain names (wte.weight, h.0.attn.c_attn.weight, ...),
                           Conv1D weights [in, out], F32, plus the causal-mask buffers
                           h.{i}.attn.bias (1, 1, n_positions, n_positions) that the hub file has
  lm/config.json           GPT2Config fields, architectures GPT2LMHeadModel
  score/model.safetensors  the same trunk with the "transformer." prefix, its mask buffers
                           (attn.bias and the scalar attn.masked_bias of older saves) and
                           score.weight [1, C]
  score/config.json        architectures GPT2ForSequenceClassification, id2label of one label
  expected.json            the expected values, all computed in float64 from the float32
                           weights stored in the files:
    sequences      two token sequences (length 9 and 6), each run SEPARATELY (no padding; a
                   causal model gives the same values for a right-padded batch)
    logits         per sequence, (T, V) row-major: the LM logits of every position
    loss           mean next-token cross-entropy over all 8 + 5 = 13 predicted positions of both
                   sequences (position t predicts token t+1; HF's shifted labels, one mean over
                   the concatenation)
    grads          d loss / d parameter for a few tensors, in the HF layout: hf_shape, and the
                   row-major flattened gradient values[i] of flat index start + i (Conv1D
                   weights are [in, out] here, i.e. transposed relative to our [out, in])
    score.rewards  the score head's value at the last token of each sequence
    score.grads    d (reward_0 + reward_1) / d parameter, same format, names without prefix
    greedy         prompt = the first 4 tokens of sequence 0; tokens = 5 greedy tokens, each the
                   argmax of a full forward over prompt + tokens so far (no cache); logprobs = the
                   log-softmax of each chosen token; min_margin = the smallest top-1 minus
                   top-2 logit gap (the argmax is robust to float32 rounding if it is >> 1e-4)
    sensitivity    max |logit change| when erf-GELU replaces gelu_new, or when the 1/sqrt(hs)
                   scale is dropped: proof the fixture can see those mistakes (asserted > 5x
                   the test's 1e-4 logit tolerance)
"""
import json
import math
import os
import struct

import torch

V, NPOS, L, NH, C = 61, 16, 2, 2, 16
HS = C // NH
EPS = 1e-5
SEED = 20240531
SEQS = [[5, 17, 3, 42, 8, 3, 59, 21, 11], [3, 0, 33, 7, 50, 14]]  # token 3 is used: wte row 3 gets an input gradient
PROMPT_LEN, NEW_TOKENS = 4, 5
HERE = os.path.dirname(os.path.abspath(__file__))


def make_weights():
    """HF names -> float32 tensors in HF shapes, std 0.1-0.3 so that every nonlinearity is exercised."""
    g = torch.Generator().manual_seed(SEED)

    def normal(std, *shape):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * std).float()

    w = {"wte.weight": normal(0.3, V, C), "wpe.weight": normal(0.1, NPOS, C)}
    for i in range(L):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + normal(0.2, C)
        w[p + "ln_1.bias"] = normal(0.1, C)
        w[p + "attn.c_attn.weight"] = normal(0.3, C, 3 * C)   # Conv1D [in, out]
        w[p + "attn.c_attn.bias"] = normal(0.1, 3 * C)
        w[p + "attn.c_proj.weight"] = normal(0.2, C, C)
        w[p + "attn.c_proj.bias"] = normal(0.1, C)
        w[p + "ln_2.weight"] = 1 + normal(0.2, C)
        w[p + "ln_2.bias"] = normal(0.1, C)
        w[p + "mlp.c_fc.weight"] = normal(0.3, C, 4 * C)
        w[p + "mlp.c_fc.bias"] = normal(0.2, 4 * C)
        w[p + "mlp.c_proj.weight"] = normal(0.15, 4 * C, C)
        w[p + "mlp.c_proj.bias"] = normal(0.1, C)
    w["ln_f.weight"] = 1 + normal(0.2, C)
    w["ln_f.bias"] = normal(0.1, C)
    score = normal(0.3, 1, C)
    return w, score


# ------------------------------------------------------------------ the HF GPT-2 math

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, EPS)


def conv1d(x, w, b):
    """HF Conv1D: w is [in, out]."""
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).reshape(*x.shape[:-1], w.shape[-1])


def attention(x, w, p, scale):
    T = x.shape[0]
    qkv = conv1d(x, w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])  # (T, 3C)
    q, k, v = qkv.split(C, dim=-1)
    q, k, v = (t.view(T, NH, HS).transpose(0, 1) for t in (q, k, v))       # (NH, T, HS)
    att = q @ k.transpose(-1, -2)                                          # (NH, T, T)
    if scale:
        att = att / (v.shape[-1] ** 0.5)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min, dtype=att.dtype))
    att = torch.softmax(att, dim=-1)
    y = (att @ v).transpose(0, 1).reshape(T, C)                            # merge heads
    return conv1d(y, w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])


def hidden_states(w, tokens, gelu=gelu_new, scale=True):
    """tokens (T) -> ln_f output (T, C)."""
    T = len(tokens)
    x = w["wte.weight"][torch.tensor(tokens)] + w["wpe.weight"][torch.arange(T)]
    for i in range(L):
        p = f"h.{i}."
        x = x + attention(layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"]), w, p, scale)
        h = conv1d(layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"]), w[p + "mlp.c_fc.weight"],
                   w[p + "mlp.c_fc.bias"])
        x = x + conv1d(gelu(h), w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])
    return layer_norm(x, w["ln_f.weight"], w["ln_f.bias"])


def lm_logits(w, tokens, **kw):
    return hidden_states(w, tokens, **kw) @ w["wte.weight"].T  # tied head: (T, V)


# ------------------------------------------------------------------ files

def write_safetensors(path, tensors):
    """safetensors by hand: u64 LE header length, JSON header (space-padded to 8 bytes), raw LE F32."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous()
        flat = t.reshape(-1).tolist()
        data = struct.pack("<%df" % len(flat), *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def config(architecture, extra):
    c = {
        "activation_function": "gelu_new", "architectures": [architecture], "attn_pdrop": 0.1,
        "bos_token_id": V - 1, "embd_pdrop": 0.1, "eos_token_id": V - 1, "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": NPOS, "n_embd": C, "n_head": NH,
        "n_inner": None, "n_layer": L, "n_positions": NPOS, "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1, "scale_attn_by_inverse_layer_idx": False, "scale_attn_weights": True,
        "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
        "summary_type": "cls_index", "summary_use_proj": True, "use_cache": True, "vocab_size": V,
    }
    c.update(extra)
    return c


def write_json(path, obj, indent=None):
    with open(path, "w") as f:
        json.dump(obj, f, indent=indent)
        f.write("\n")


def mask_buffer():
    return torch.tril(torch.ones(NPOS, NPOS)).view(1, 1, NPOS, NPOS)


# HF-layout slices whose gradients are recorded: (name, start, count); count None = the whole tensor.
# Starts that cross a row of the [in, out] matrix check the transposition, not just one row.
GRAD_SLICES = [
    ("h.0.attn.c_attn.weight", 40, 20),     # in=0 out 40..47, in=1 out 0..11
    ("h.1.attn.c_attn.bias", 0, None),      # the k part is exactly 0 (softmax shift invariance)
    ("h.0.attn.c_proj.weight", 0, 20),
    ("h.1.mlp.c_fc.weight", 60, 10),
    ("h.0.mlp.c_proj.weight", 130, 20),
    ("h.1.mlp.c_proj.bias", 0, None),
    ("h.0.ln_1.weight", 0, None),
    ("h.1.ln_2.bias", 0, None),
    ("wte.weight", 3 * C, C),               # row 3: input and tied-head gradient
    ("wpe.weight", 7 * C, C),               # position 7: only sequence 0 reaches it (8 predicts nothing)
    ("ln_f.weight", 0, None),
]
SCORE_GRAD_SLICES = [("score.weight", 0, None), ("h.0.attn.c_attn.weight", 40, 20), ("ln_f.bias", 0, None),
                     ("wte.weight", 3 * C, C)]


def grad_entries(w64, slices):
    out = {}
    for name, start, count in slices:
        g = w64[name].grad.reshape(-1)
        n = g.numel() - start if count is None else count
        assert g[start:start + n].abs().max() > 1e-3, f"gradient slice of {name} is ~0: it would prove nothing"
        out[name] = {"hf_shape": list(w64[name].shape), "start": start, "values": g[start:start + n].tolist()}
    return out


def main():
    w32, score32 = make_weights()

    lm = dict(w32)
    for i in range(L):
        lm[f"h.{i}.attn.bias"] = mask_buffer()
    os.makedirs(os.path.join(HERE, "lm"), exist_ok=True)
    write_safetensors(os.path.join(HERE, "lm", "model.safetensors"), lm)
    write_json(os.path.join(HERE, "lm", "config.json"), config("GPT2LMHeadModel", {}), indent=2)

    sc = {"transformer." + k: v for k, v in w32.items()}
    for i in range(L):
        sc[f"transformer.h.{i}.attn.bias"] = mask_buffer()
        sc[f"transformer.h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    sc["score.weight"] = score32
    os.makedirs(os.path.join(HERE, "score"), exist_ok=True)
    write_safetensors(os.path.join(HERE, "score", "model.safetensors"), sc)
    write_json(os.path.join(HERE, "score", "config.json"), config(
        "GPT2ForSequenceClassification",
        {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}, "pad_token_id": V - 1}), indent=2)

    # ---- expected values, float64 from the stored float32 weights
    w64 = {k: v.double().requires_grad_(True) for k, v in w32.items()}
    logits = [lm_logits(w64, s) for s in SEQS]
    pred = torch.cat([lg[:-1] for lg in logits])                       # HF shift: logits[:-1] vs labels[1:]
    labels = torch.cat([torch.tensor(s[1:]) for s in SEQS])
    loss = torch.nn.functional.cross_entropy(pred, labels)             # mean over the 13 targets
    loss.backward()
    lm_grads = grad_entries(w64, GRAD_SLICES)

    # score head (GPT2ForSequenceClassification): value at the last token of each sequence
    w64 = {k: v.double().requires_grad_(True) for k, v in w32.items()}
    w64["score.weight"] = score32.double().requires_grad_(True)
    rewards = [(hidden_states(w64, s) @ w64["score.weight"].T)[-1, 0] for s in SEQS]
    sum(rewards).backward()
    score_grads = grad_entries(w64, SCORE_GRAD_SLICES)

    # greedy continuation by full forwards (no cache)
    with torch.no_grad():
        wd = {k: v.double() for k, v in w32.items()}
        seq, logprobs, margin = list(SEQS[0][:PROMPT_LEN]), [], float("inf")
        for _ in range(NEW_TOKENS):
            last = lm_logits(wd, seq)[-1]
            top = torch.topk(last, 2).values
            margin = min(margin, (top[0] - top[1]).item())
            tok = int(torch.argmax(last))
            logprobs.append(torch.log_softmax(last, -1)[tok].item())
            seq.append(tok)
        assert margin > 1e-3, f"greedy argmax too close to a tie ({margin}); change SEED"

        ref = torch.cat([lm_logits(wd, s) for s in SEQS])
        sens = {
            "erf_gelu": (torch.cat([lm_logits(wd, s, gelu=gelu_erf) for s in SEQS]) - ref).abs().max().item(),
            "no_attention_scale": (torch.cat([lm_logits(wd, s, scale=False) for s in SEQS]) - ref).abs().max().item(),
        }
        assert min(sens.values()) > 5e-4, f"fixture too insensitive (test tolerance 1e-4): {sens}"

    expected = {
        "about": "see make_golden.py: sequences run separately, float64 values from the float32 weights in lm/ "
                 "and score/; grads in HF layout ([in, out] Conv1D), values[i] = flat index start + i",
        "vocab_size": V,
        "sequences": SEQS,
        "logits": [lg.detach().reshape(-1).tolist() for lg in logits],
        "loss": loss.item(),
        "grads": lm_grads,
        "score": {"rewards": [r.item() for r in rewards], "grads": score_grads},
        "greedy": {"prompt": SEQS[0][:PROMPT_LEN], "tokens": seq[PROMPT_LEN:], "logprobs": logprobs,
                   "min_margin": margin},
        "sensitivity": sens,
    }
    write_json(os.path.join(HERE, "expected.json"), expected)
    print("loss", loss.item(), "rewards", expected["score"]["rewards"], "greedy", expected["greedy"]["tokens"],
          "margin", margin, "sensitivity", sens)


if __name__ == "__main__":
    main()
