#!/usr/bin/env python3
"""Predicts the SFT step time on N nodes for the two exchanges, from the costs bench/cluster.sh
measured on this machine (its 1- and 2-Worker runs of each exchange), and prints a Markdown table.

Usage: bench/cost_model.py RUNS.json   (written by bench/cluster.sh: one object per run with the
medians of its metrics and its Worker count and exchange)

The model (weak scaling: each node keeps the per-node batch it had in the bench, one executor per
node, a link of B bytes/s per node and at the driver, M = 4 bytes x parameters):

  driver exchange   step = C + O_drv + F_drv + c_drv * P*M + (P*M + M) / B
                    the driver receives P gradients (its link and its CPU, serially) and sends the
                    parameters once (torrent broadcast: executors pass pieces on)
  sharded exchange  step = C + O_1 / P + F_sh + (2 * M * (P-1)/P + 3 * M / P) / B
                    each node sends and receives (P-1)/P of a gradient in the shuffle
                    (reduce-scatter) and (P-1)/P of the parameters (all-gather from the peers'
                    shards), and a replica of its 1/P of the moments (2M) and parameters (M); the
                    driver moves nothing; AdamW is split over P

C: the slowest partition's compute, O: the optimizer, F: a fixed cost per step (scheduling, jobs),
c: CPU seconds per byte of the exchange's copies (encode, serialize, send, add); F and c are
fitted from the loopback runs, where moving a byte costs only CPU. Efficiency = C / step.
"""
import json
import sys


def fit(points):
    """Least squares a + b*x over (x, y) points; b = 0 when all x are equal."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    b = 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in points) / sxx
    b = max(b, 0.0)
    return my - b * mx, b


def main():
    runs = json.load(open(sys.argv[1]))
    drv = [r for r in runs if r["exchange"] == "driver" and r["workers"] in (1, 2)]
    sh = [r for r in runs if r["exchange"] == "sharded" and r["workers"] in (1, 2)]
    if not drv or not sh:
        sys.exit("cost model: needs 1- or 2-Worker runs of both exchanges")
    M = drv[0]["param_bytes"]
    widest = max(r["workers"] for r in drv + sh)
    C = max(r["compute_s"] for r in drv + sh if r["workers"] == widest)
    f_drv, c_drv = fit([(r["driver_in_bytes"], r["exchange_s"]) for r in drv])
    o_drv = sum(r["optimizer_s"] for r in drv) / len(drv)
    # the sharded exchange moves about M per node whatever P: its fixed and per-byte costs merge
    f_sh = sum(r["exchange_s"] for r in sh) / len(sh)
    o_1 = max(r["optimizer_s"] * r["workers"] for r in sh)
    print(f"Fitted on this machine: compute C = {C:.2f} s per step per node (the per-node batch of the "
          f"{widest}-Worker runs), model M = {M / 1e6:.0f} MB;")
    print(f"driver exchange: {f_drv:.2f} s fixed + {c_drv * 1e9:.2f} s per GB the driver receives, "
          f"optimizer {o_drv:.2f} s on the driver;")
    print(f"sharded exchange: {f_sh:.2f} s per step (about M per node whatever P), optimizer {o_1:.2f} s split over P.")
    print()
    print("| nodes | link | driver exchange step s | efficiency | sharded exchange step s | efficiency |")
    print("|---|---|---|---|---|---|")
    for gbps in (10, 25):
        B = gbps * 1e9 / 8
        for P in (8, 32, 128):
            t_drv = C + o_drv + f_drv + c_drv * P * M + (P * M + M) / B
            t_sh = C + o_1 / P + f_sh + (2 * M * (P - 1) / P + 3 * M / P) / B
            print(f"| {P} | {gbps} Gb/s | {t_drv:.1f} | {100 * C / t_drv:.0f}% | {t_sh:.1f} | {100 * C / t_sh:.0f}% |")


if __name__ == "__main__":
    main()
