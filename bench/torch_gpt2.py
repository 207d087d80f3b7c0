#!/usr/bin/python3
"""The PyTorch reference for bench/model.sh: a compact nanoGPT-style GPT-2 124M (random weights),
timed the same way as rlhf.bench.TrainStepBench and rlhf.bench.GenerationBench.

  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_gpt2.py \
      --threads 1 [--cases 4x64,8x256] [--warmup 2] [--iters 5] [--gen 8x32x64]

train step = zero grads (set_to_none) + forward + cross-entropy + backward + AdamW step
(betas 0.9/0.95, eps 1e-8, weight decay 0.1 on the linear weights only, as ours).
generation = prefill of the prompts, then new tokens one at a time through a preallocated
per-layer KV cache, multinomial sampling from softmax(logits), no EOS stop.
Prints one JSON object per line: {"kind": "train"|"gen", ...} with ms (median wall time),
ms_cpu (median process CPU time / threads), tokens_per_s, rss_mib (VmHWM so far), and a
first line {"kind": "settings", ...} with the settings actually in force.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    vocab_size = 50257
    block_size = 1024
    n_layer = 12
    n_head = 12
    n_embd = 768


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        mask = torch.tril(torch.ones(cfg.block_size, cfg.block_size, dtype=torch.bool))
        self.register_buffer("mask", mask.view(1, 1, cfg.block_size, cfg.block_size), persistent=False)

    def forward(self, x, cache=None, pos=0):
        B, T, C = x.size()
        nh, hs = self.n_head, C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, hs).transpose(1, 2)
        v = v.view(B, T, nh, hs).transpose(1, 2)
        if cache is not None:  # generation: append to the preallocated (B, nh, maxT, hs) cache
            kc, vc = cache
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, T, pos+T)
        if T > 1:
            att = att.masked_fill(~self.mask[:, :, pos:pos + T, :pos + T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x, cache=None, pos=0):
        x = x + self.attn(self.ln_1(x), cache, pos)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.h = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)])
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)

    def forward(self, idx, caches=None, pos=0):
        B, T = idx.size()
        x = self.wte(idx) + self.wpe(torch.arange(pos, pos + T, dtype=torch.long))
        for i, block in enumerate(self.h):
            x = block(x, None if caches is None else caches[i], pos)
        return self.lm_head(self.ln_f(x))  # (B, T, V)


def rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def timed(fn, warmup, iters, threads):
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(iters):
        c0, w0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3 / threads)
    return statistics.median(wall), statistics.median(cpu), wall


def bench_train(model, opt, B, T, warmup, iters, threads):
    cfg = model.cfg
    g = torch.Generator().manual_seed(B * 1000 + T)
    idx = torch.randint(cfg.vocab_size, (B, T), generator=g)
    tgt = torch.randint(cfg.vocab_size, (B, T), generator=g)
    last = {}

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(idx)
        loss = F.cross_entropy(logits.view(-1, cfg.vocab_size), tgt.view(-1))
        loss.backward()
        opt.step()
        last["loss"] = loss.item()

    ms, ms_cpu, wall = timed(step, warmup, iters, threads)
    params = sum(p.numel() for p in model.parameters())
    flops = (6.0 * params + 12.0 * cfg.n_layer * cfg.n_embd * T) * B * T
    return {"kind": "train", "B": B, "T": T, "threads": threads, "ms": round(ms, 1), "ms_cpu": round(ms_cpu, 1),
            "tokens_per_s": round(B * T / (ms / 1e3), 1), "gflops": round(flops / (ms / 1e3) / 1e9, 1),
            "params": params, "loss": round(last["loss"], 4), "rss_mib": rss_mib(),
            "wall_ms": [round(w) for w in wall]}


@torch.inference_mode()
def generate(model, prompts, new_tokens, caches, g):
    B, P = prompts.shape
    logits = model(prompts, caches, 0)[:, -1, :]
    out = torch.empty(B, new_tokens, dtype=torch.long)
    for i in range(new_tokens):
        tok = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=g)  # (B, 1)
        out[:, i] = tok[:, 0]
        if i + 1 < new_tokens:
            logits = model(tok, caches, P + i)[:, -1, :]
    return out


def bench_gen(model, B, P, N, warmup, iters, threads):
    cfg = model.cfg
    g = torch.Generator().manual_seed(42)
    prompts = torch.randint(cfg.vocab_size, (B, P), generator=g)
    hs = cfg.n_embd // cfg.n_head
    caches = [(torch.zeros(B, cfg.n_head, P + N, hs), torch.zeros(B, cfg.n_head, P + N, hs))
              for _ in range(cfg.n_layer)]
    ms, ms_cpu, wall = timed(lambda: generate(model, prompts, N, caches, g), warmup, iters, threads)
    return {"kind": "gen", "B": B, "prompt": P, "new": N, "threads": threads, "ms": round(ms, 1),
            "ms_cpu": round(ms_cpu, 1), "tokens_per_s": round(B * N / (ms / 1e3), 1), "rss_mib": rss_mib(),
            "wall_ms": [round(w) for w in wall]}


def openblas_core():
    """The core type OpenBLAS picked, if the OpenBLAS torch uses is loaded in this process."""
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
        for lib in sorted(libs):
            try:
                fn = ctypes.CDLL(lib).openblas_get_corename
                fn.restype = ctypes.c_char_p
                return "%s (%s)" % (fn().decode(), lib)
            except (OSError, AttributeError):
                continue
        return "no OpenBLAS among " + ",".join(sorted(libs))
    except OSError as e:
        return "unknown: %s" % e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cases", default="4x64,8x256")
    ap.add_argument("--gen", default="8x32x64", help="BxPROMPTxNEW, or empty to skip")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--gen-iters", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1234)
    model = GPT(Config())
    torch.zeros(64, 64) @ torch.zeros(64, 64)  # load BLAS before asking which core it chose
    print(json.dumps({"kind": "settings", "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                      "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                      "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                      "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
                      "openblas_core": openblas_core(),
                      "blas_info": [w.strip(",") for w in torch.__config__.show().split() if w.startswith("BLAS_INFO")]}), flush=True)
    if a.gen:
        B, P, N = (int(x) for x in a.gen.split("x"))
        model.eval()
        print(json.dumps(bench_gen(model, B, P, N, 1, a.gen_iters, a.threads)), flush=True)
    model.train()
    decay = [p for n, p in model.named_parameters() if n.endswith(".weight") and p.dim() == 2 and "wte" not in n
             and "wpe" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith(".weight") and p.dim() == 2
                                                               and "wte" not in n and "wpe" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-5, betas=(0.9, 0.95), eps=1e-8, foreach=True)
    for case in a.cases.split(","):
        if case:
            B, T = (int(x) for x in case.split("x"))
            print(json.dumps(bench_train(model, opt, B, T, a.warmup, a.iters, a.threads)), flush=True)


if __name__ == "__main__":
    main()
