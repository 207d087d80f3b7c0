package rlhf.tensor;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast kernels behind {@link Matmul}: a GotoBLAS-style blocked product on the Vector API.
 *
 * <pre>
 * gemm:  c (M,N) (+)= a (M,K) · b (K,N)      a(m,k) = a[aOff + m*aRs + k*aCs]
 *                                          b(k,n) = b[bOff + k*bRs + n*bCs]
 * </pre>
 *
 * Strides let the three products of a linear layer use one kernel without copying whole
 * matrices: forward reads w (OC,C) as b with bRs=1 (a transposed view), dw reads dout (BT,OC) as
 * a with aRs=1. Blocks of a (MC x KC) and b (KC x NC) are packed into per-thread scratch so that
 * the micro-kernel reads both contiguously: for each k it broadcasts MR values of a and
 * multiplies them by NR = 4 vectors of b, keeping MR x 4 vector accumulators in registers.
 *
 * <p>Work is split over rows m or columns n (each thread owns a block of c), so there are no
 * races, and every element of c is summed in the same k order whatever the thread count: results
 * do not depend on thread timing nor on the number of threads.
 *
 * <p>Measured on Zen 5 (bench/RESULTS.md): the micro-kernel alone runs at ~95% of the FMA peak;
 * the whole product at ~60-75% (0.8x OpenBLAS), the rest going to packing and to traffic on c.
 */
final class MatmulGemm {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Rows of a per micro-tile. */
    static final int MR = 4;
    /** Columns of b per micro-tile: four vectors. */
    static final int NR = 4 * L;
    /** Depth of a packed block (the k extent of one pass over c). */
    static final int KC = Integer.getInteger("rlhf.matmul.kc", 256);
    /** Rows of a in a packed block (kept in L2). */
    static final int MC = roundUp(Integer.getInteger("rlhf.matmul.mc", 64), MR);
    /** Columns of b in a packed block. */
    static final int NC = roundUp(Integer.getInteger("rlhf.matmul.nc", 1024), NR);
    /** Below this many rows the forward product skips packing and does register-tiled dot products. */
    static final int SMALL_M = 16;

    private MatmulGemm() {
    }

    /** Per-thread packing buffers, sized once. */
    private static final class Scratch {
        final float[] ap = new float[MC * KC];
        final float[] bp = new float[KC * NC];
        /** Product of one (MC x NC) block before it is added into c in row order. */
        final float[] cbuf = new float[MC * NC];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static int roundUp(int x, int m) {
        return Math.max(m, (x + m - 1) / m * m);
    }

    /**
     * c (M,N) (+)= a (M,K) · b (K,N), parallel over rows of c, or over columns with
     * {@code splitColumns} (then each thread packs only its own part of b: the choice when b is
     * the big operand and its packing is the expensive one). With {@code set} c is first set to
     * bias(n) (or zero when bias is null) instead of accumulated into.
     */
    static void gemm(int M, int N, int K,
                     float[] a, int aOff, int aRs, int aCs,
                     float[] b, int bOff, int bRs, int bCs,
                     float[] c, int cOff, int ldc,
                     float[] bias, int biasOff, boolean set, boolean splitColumns) {
        if (M <= 0 || N <= 0) {
            return;
        }
        if (K <= 0) {
            if (set) {
                setBias(c, cOff, ldc, M, N, bias, biasOff);
            }
            return;
        }
        if (splitColumns) {
            Parallel.forRange(N, NR, (n0, n1) -> gemmBlock(0, M, n0, n1, K, a, aOff, aRs, aCs, b, bOff, bRs, bCs,
                    c, cOff, ldc, bias, biasOff, set));
        } else {
            Parallel.forRange(M, MR, (m0, m1) -> gemmBlock(m0, m1, 0, N, K, a, aOff, aRs, aCs, b, bOff, bRs, bCs,
                    c, cOff, ldc, bias, biasOff, set));
        }
    }

    /** c[m0:m1, n0:n1] (+)= a[m0:m1, :] · b[:, n0:n1], one thread. */
    private static void gemmBlock(int m0, int m1, int n0, int n1, int K,
                                 float[] a, int aOff, int aRs, int aCs,
                                 float[] b, int bOff, int bRs, int bCs,
                                 float[] c, int cOff, int ldc,
                                 float[] bias, int biasOff, boolean set) {
        Scratch s = SCRATCH.get();
        float[] ap = s.ap;
        float[] bp = s.bp;
        float[] cb = s.cbuf;
        for (int jc = n0; jc < n1; jc += NC) {
            int nc = Math.min(NC, n1 - jc);
            for (int pc = 0; pc < K; pc += KC) {
                int kc = Math.min(KC, K - pc);
                boolean first = set && pc == 0;
                packB(kc, nc, b, bOff + pc * bRs + jc * bCs, bRs, bCs, bp);
                for (int ic = m0; ic < m1; ic += MC) {
                    int mc = Math.min(MC, m1 - ic);
                    packA(mc, kc, a, aOff + ic * aRs + pc * aCs, aRs, aCs, ap);
                    if (first) {
                        // forward: c starts from the bias (or zero)
                        setBias(c, cOff + ic * ldc + jc, ldc, mc, nc, bias, biasOff + jc);
                    }
                    // tiles go to a cached buffer (full tiles, padded), then one row-ordered
                    // pass adds the block into c: c is touched in streams the prefetcher
                    // follows instead of 4 x 64 tiles that miss (Java has no prefetch)
                    int ldb = roundUp(nc, NR);
                    for (int jr = 0; jr < nc; jr += NR) {
                        for (int ir = 0; ir < mc; ir += MR) {
                            kernel(kc, ap, ir * kc, bp, jr * kc, cb, ir * ldb + jr, ldb);
                        }
                    }
                    addInto(c, cOff + ic * ldc + jc, ldc, cb, ldb, mc, nc);
                }
            }
        }
    }

    /**
     * Packs b (kc,nc) into panels of NR columns: bp[jr*kc + k*NR + j] = b(k, jr+j). Lanes past
     * nc in the last panel (and rows past mc in packA) keep stale values: they only feed padding
     * of the block buffer that is never added into c.
     */
    private static void packB(int kc, int nc, float[] b, int bo, int bRs, int bCs, float[] bp) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int p = jr * kc;
            if (bCs == 1) {
                int src = bo + jr;
                if (nr == NR) {
                    for (int k = 0; k < kc; k++, src += bRs, p += NR) {
                        FloatVector.fromArray(S, b, src).intoArray(bp, p);
                        FloatVector.fromArray(S, b, src + L).intoArray(bp, p + L);
                        FloatVector.fromArray(S, b, src + 2 * L).intoArray(bp, p + 2 * L);
                        FloatVector.fromArray(S, b, src + 3 * L).intoArray(bp, p + 3 * L);
                    }
                } else {
                    for (int k = 0; k < kc; k++, src += bRs, p += NR) {
                        System.arraycopy(b, src, bp, p, nr);
                    }
                }
            } else {
                // transposed view (bRs == 1 for forward): 16 x 16 blocks transposed in registers,
                // the rest (and other vector widths) element by element
                int kt = L == 16 && bRs == 1 ? kc - kc % 16 : 0;
                int jt = L == 16 && bRs == 1 ? nr - nr % 16 : 0;
                for (int j = 0; j < jt; j += 16) {
                    int src = bo + (jr + j) * bCs;
                    for (int k = 0; k < kt; k += 16) {
                        transpose16(b, src + k, bCs, bp, p + k * NR + j, NR);
                    }
                }
                packStrided(b, bo + jr * bCs, bRs, bCs, bp, p, kt, kc, 0, jt);
                packStrided(b, bo + jr * bCs, bRs, bCs, bp, p, 0, kc, jt, nr);
            }
        }
    }

    /** bp[p + k*NR + j] = b[src + k*bRs + j*bCs] for k in [k0,k1), j in [j0,j1), in k slices of 16. */
    private static void packStrided(float[] b, int src, int bRs, int bCs, float[] bp, int p,
                                    int k0, int k1, int j0, int j1) {
        for (int ks = k0; ks < k1; ks += 16) {
            int ke = Math.min(k1, ks + 16);
            for (int j = j0; j < j1; j++) {
                for (int k = ks; k < ke; k++) {
                    bp[p + k * NR + j] = b[src + k * bRs + j * bCs];
                }
            }
        }
    }

    private static final VectorShuffle<Float>[] UP = shuffles(-1);
    private static final VectorShuffle<Float>[] DOWN = shuffles(1);
    private static final VectorMask<Float>[] HIGH = highMasks();

    /** Lane l takes lane (l + sign*s) mod L, for s = 1, 2, 4, 8 (index log2 s). */
    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] shuffles(int sign) {
        VectorShuffle<Float>[] r = new VectorShuffle[4];
        for (int i = 0; i < 4; i++) {
            int d = sign * (1 << i);
            r[i] = VectorShuffle.fromOp(S, l -> Math.floorMod(l + d, L));
        }
        return r;
    }

    /** Lanes l with bit s set, for s = 1, 2, 4, 8. */
    @SuppressWarnings("unchecked")
    private static VectorMask<Float>[] highMasks() {
        VectorMask<Float>[] r = new VectorMask[4];
        for (int i = 0; i < 4; i++) {
            boolean[] bits = new boolean[L];
            for (int l = 0; l < L; l++) {
                bits[l] = (l & (1 << i)) != 0;
            }
            r[i] = VectorMask.fromArray(S, bits, 0);
        }
        return r;
    }

    /**
     * Transposes a 16 x 16 block (L == 16): dst[d + k*ldd + j] = src[o + j*lds + k]. Four stages,
     * each swapping the off-diagonal s x s blocks of row pairs (i, i+s) with a rearrange and a
     * blend; written out so the 16 vectors stay in registers.
     */
    private static void transpose16(float[] src, int o, int lds, float[] dst, int d, int ldd) {
        FloatVector v0 = FloatVector.fromArray(S, src, o + 0 * lds);
        FloatVector v1 = FloatVector.fromArray(S, src, o + 1 * lds);
        FloatVector v2 = FloatVector.fromArray(S, src, o + 2 * lds);
        FloatVector v3 = FloatVector.fromArray(S, src, o + 3 * lds);
        FloatVector v4 = FloatVector.fromArray(S, src, o + 4 * lds);
        FloatVector v5 = FloatVector.fromArray(S, src, o + 5 * lds);
        FloatVector v6 = FloatVector.fromArray(S, src, o + 6 * lds);
        FloatVector v7 = FloatVector.fromArray(S, src, o + 7 * lds);
        FloatVector v8 = FloatVector.fromArray(S, src, o + 8 * lds);
        FloatVector v9 = FloatVector.fromArray(S, src, o + 9 * lds);
        FloatVector v10 = FloatVector.fromArray(S, src, o + 10 * lds);
        FloatVector v11 = FloatVector.fromArray(S, src, o + 11 * lds);
        FloatVector v12 = FloatVector.fromArray(S, src, o + 12 * lds);
        FloatVector v13 = FloatVector.fromArray(S, src, o + 13 * lds);
        FloatVector v14 = FloatVector.fromArray(S, src, o + 14 * lds);
        FloatVector v15 = FloatVector.fromArray(S, src, o + 15 * lds);
        FloatVector a0 = v0.blend(v8.rearrange(UP[3]), HIGH[3]);
        FloatVector a8 = v0.rearrange(DOWN[3]).blend(v8, HIGH[3]);
        FloatVector a1 = v1.blend(v9.rearrange(UP[3]), HIGH[3]);
        FloatVector a9 = v1.rearrange(DOWN[3]).blend(v9, HIGH[3]);
        FloatVector a2 = v2.blend(v10.rearrange(UP[3]), HIGH[3]);
        FloatVector a10 = v2.rearrange(DOWN[3]).blend(v10, HIGH[3]);
        FloatVector a3 = v3.blend(v11.rearrange(UP[3]), HIGH[3]);
        FloatVector a11 = v3.rearrange(DOWN[3]).blend(v11, HIGH[3]);
        FloatVector a4 = v4.blend(v12.rearrange(UP[3]), HIGH[3]);
        FloatVector a12 = v4.rearrange(DOWN[3]).blend(v12, HIGH[3]);
        FloatVector a5 = v5.blend(v13.rearrange(UP[3]), HIGH[3]);
        FloatVector a13 = v5.rearrange(DOWN[3]).blend(v13, HIGH[3]);
        FloatVector a6 = v6.blend(v14.rearrange(UP[3]), HIGH[3]);
        FloatVector a14 = v6.rearrange(DOWN[3]).blend(v14, HIGH[3]);
        FloatVector a7 = v7.blend(v15.rearrange(UP[3]), HIGH[3]);
        FloatVector a15 = v7.rearrange(DOWN[3]).blend(v15, HIGH[3]);
        FloatVector b0 = a0.blend(a4.rearrange(UP[2]), HIGH[2]);
        FloatVector b4 = a0.rearrange(DOWN[2]).blend(a4, HIGH[2]);
        FloatVector b1 = a1.blend(a5.rearrange(UP[2]), HIGH[2]);
        FloatVector b5 = a1.rearrange(DOWN[2]).blend(a5, HIGH[2]);
        FloatVector b2 = a2.blend(a6.rearrange(UP[2]), HIGH[2]);
        FloatVector b6 = a2.rearrange(DOWN[2]).blend(a6, HIGH[2]);
        FloatVector b3 = a3.blend(a7.rearrange(UP[2]), HIGH[2]);
        FloatVector b7 = a3.rearrange(DOWN[2]).blend(a7, HIGH[2]);
        FloatVector b8 = a8.blend(a12.rearrange(UP[2]), HIGH[2]);
        FloatVector b12 = a8.rearrange(DOWN[2]).blend(a12, HIGH[2]);
        FloatVector b9 = a9.blend(a13.rearrange(UP[2]), HIGH[2]);
        FloatVector b13 = a9.rearrange(DOWN[2]).blend(a13, HIGH[2]);
        FloatVector b10 = a10.blend(a14.rearrange(UP[2]), HIGH[2]);
        FloatVector b14 = a10.rearrange(DOWN[2]).blend(a14, HIGH[2]);
        FloatVector b11 = a11.blend(a15.rearrange(UP[2]), HIGH[2]);
        FloatVector b15 = a11.rearrange(DOWN[2]).blend(a15, HIGH[2]);
        FloatVector c0 = b0.blend(b2.rearrange(UP[1]), HIGH[1]);
        FloatVector c2 = b0.rearrange(DOWN[1]).blend(b2, HIGH[1]);
        FloatVector c1 = b1.blend(b3.rearrange(UP[1]), HIGH[1]);
        FloatVector c3 = b1.rearrange(DOWN[1]).blend(b3, HIGH[1]);
        FloatVector c4 = b4.blend(b6.rearrange(UP[1]), HIGH[1]);
        FloatVector c6 = b4.rearrange(DOWN[1]).blend(b6, HIGH[1]);
        FloatVector c5 = b5.blend(b7.rearrange(UP[1]), HIGH[1]);
        FloatVector c7 = b5.rearrange(DOWN[1]).blend(b7, HIGH[1]);
        FloatVector c8 = b8.blend(b10.rearrange(UP[1]), HIGH[1]);
        FloatVector c10 = b8.rearrange(DOWN[1]).blend(b10, HIGH[1]);
        FloatVector c9 = b9.blend(b11.rearrange(UP[1]), HIGH[1]);
        FloatVector c11 = b9.rearrange(DOWN[1]).blend(b11, HIGH[1]);
        FloatVector c12 = b12.blend(b14.rearrange(UP[1]), HIGH[1]);
        FloatVector c14 = b12.rearrange(DOWN[1]).blend(b14, HIGH[1]);
        FloatVector c13 = b13.blend(b15.rearrange(UP[1]), HIGH[1]);
        FloatVector c15 = b13.rearrange(DOWN[1]).blend(b15, HIGH[1]);
        FloatVector e0 = c0.blend(c1.rearrange(UP[0]), HIGH[0]);
        FloatVector e1 = c0.rearrange(DOWN[0]).blend(c1, HIGH[0]);
        FloatVector e2 = c2.blend(c3.rearrange(UP[0]), HIGH[0]);
        FloatVector e3 = c2.rearrange(DOWN[0]).blend(c3, HIGH[0]);
        FloatVector e4 = c4.blend(c5.rearrange(UP[0]), HIGH[0]);
        FloatVector e5 = c4.rearrange(DOWN[0]).blend(c5, HIGH[0]);
        FloatVector e6 = c6.blend(c7.rearrange(UP[0]), HIGH[0]);
        FloatVector e7 = c6.rearrange(DOWN[0]).blend(c7, HIGH[0]);
        FloatVector e8 = c8.blend(c9.rearrange(UP[0]), HIGH[0]);
        FloatVector e9 = c8.rearrange(DOWN[0]).blend(c9, HIGH[0]);
        FloatVector e10 = c10.blend(c11.rearrange(UP[0]), HIGH[0]);
        FloatVector e11 = c10.rearrange(DOWN[0]).blend(c11, HIGH[0]);
        FloatVector e12 = c12.blend(c13.rearrange(UP[0]), HIGH[0]);
        FloatVector e13 = c12.rearrange(DOWN[0]).blend(c13, HIGH[0]);
        FloatVector e14 = c14.blend(c15.rearrange(UP[0]), HIGH[0]);
        FloatVector e15 = c14.rearrange(DOWN[0]).blend(c15, HIGH[0]);
        e0.intoArray(dst, d + 0 * ldd);
        e1.intoArray(dst, d + 1 * ldd);
        e2.intoArray(dst, d + 2 * ldd);
        e3.intoArray(dst, d + 3 * ldd);
        e4.intoArray(dst, d + 4 * ldd);
        e5.intoArray(dst, d + 5 * ldd);
        e6.intoArray(dst, d + 6 * ldd);
        e7.intoArray(dst, d + 7 * ldd);
        e8.intoArray(dst, d + 8 * ldd);
        e9.intoArray(dst, d + 9 * ldd);
        e10.intoArray(dst, d + 10 * ldd);
        e11.intoArray(dst, d + 11 * ldd);
        e12.intoArray(dst, d + 12 * ldd);
        e13.intoArray(dst, d + 13 * ldd);
        e14.intoArray(dst, d + 14 * ldd);
        e15.intoArray(dst, d + 15 * ldd);
    }

    /** Packs a (mc,kc) into panels of MR rows: ap[ir*kc + k*MR + i] = a(ir+i, k). */
    private static void packA(int mc, int kc, float[] a, int ao, int aRs, int aCs, float[] ap) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int p = ir * kc;
            if (aRs == 1 && mr == MR) {
                int src = ao + ir;
                for (int k = 0; k < kc; k++, src += aCs, p += MR) {
                    ap[p] = a[src];
                    ap[p + 1] = a[src + 1];
                    ap[p + 2] = a[src + 2];
                    ap[p + 3] = a[src + 3];
                }
            } else {
                for (int i = 0; i < mr; i++) {
                    int src = ao + (ir + i) * aRs;
                    int dst = p + i;
                    for (int k = 0; k < kc; k++) {
                        ap[dst + k * MR] = a[src + k * aCs];
                    }
                }
            }
        }
    }

    /**
     * The MR x NR micro-tile: 16 vector accumulators, one broadcast of a per row and k; writes
     * the full tile (the buffer is padded, so no tails here).
     */
    private static void kernel(int kc, float[] ap, int pa, float[] bp, int pb, float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int k = 0; k < kc; k++, pa += MR, pb += NR) {
            FloatVector b0 = FloatVector.fromArray(S, bp, pb);
            FloatVector b1 = FloatVector.fromArray(S, bp, pb + L);
            FloatVector b2 = FloatVector.fromArray(S, bp, pb + 2 * L);
            FloatVector b3 = FloatVector.fromArray(S, bp, pb + 3 * L);
            FloatVector x = FloatVector.broadcast(S, ap[pa]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            c02 = x.fma(b2, c02);
            c03 = x.fma(b3, c03);
            x = FloatVector.broadcast(S, ap[pa + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            c12 = x.fma(b2, c12);
            c13 = x.fma(b3, c13);
            x = FloatVector.broadcast(S, ap[pa + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            c22 = x.fma(b2, c22);
            c23 = x.fma(b3, c23);
            x = FloatVector.broadcast(S, ap[pa + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            c32 = x.fma(b2, c32);
            c33 = x.fma(b3, c33);
        }
        int c0 = co, c1 = co + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        c00.intoArray(c, c0);
        c01.intoArray(c, c0 + L);
        c02.intoArray(c, c0 + 2 * L);
        c03.intoArray(c, c0 + 3 * L);
        c10.intoArray(c, c1);
        c11.intoArray(c, c1 + L);
        c12.intoArray(c, c1 + 2 * L);
        c13.intoArray(c, c1 + 3 * L);
        c20.intoArray(c, c2);
        c21.intoArray(c, c2 + L);
        c22.intoArray(c, c2 + 2 * L);
        c23.intoArray(c, c2 + 3 * L);
        c30.intoArray(c, c3);
        c31.intoArray(c, c3 + L);
        c32.intoArray(c, c3 + 2 * L);
        c33.intoArray(c, c3 + 3 * L);
    }

    /** c[i*ldc + j] += cb[i*ldb + j] for i < rows, j < cols. */
    private static void addInto(float[] c, int co, int ldc, float[] cb, int ldb, int rows, int cols) {
        int cv = cols - cols % L;
        for (int i = 0; i < rows; i++) {
            int ci = co + i * ldc;
            int bi = i * ldb;
            for (int j = 0; j < cv; j += L) {
                FloatVector.fromArray(S, c, ci + j).add(FloatVector.fromArray(S, cb, bi + j)).intoArray(c, ci + j);
            }
            for (int j = cv; j < cols; j++) {
                c[ci + j] += cb[bi + j];
            }
        }
    }

    /** c (M,N) = bias (N) broadcast over rows, or zero when bias is null. */
    private static void setBias(float[] c, int cOff, int ldc, int M, int N, float[] bias, int biasOff) {
        for (int m = 0; m < M; m++) {
            int cm = cOff + m * ldc;
            if (bias == null) {
                Arrays.fill(c, cm, cm + N, 0f);
            } else {
                System.arraycopy(bias, biasOff, c, cm, N);
            }
        }
    }

    /**
     * Forward for few rows (generation): out (BT,OC) = inp (BT,C) · w (OC,C)^T + bias, as dot
     * products of contiguous rows, 4 output channels at a time so each w row is read once from
     * memory per call. Parallel over output channels (each thread owns whole columns of out).
     */
    static void forwardFewRows(float[] out, int outOff, float[] inp, int inpOff, float[] w, int wOff,
                               float[] bias, int biasOff, int BT, int C, int OC) {
        Parallel.forRange(OC, 16, (o0, o1) -> {
            int cv = C - C % L;
            int oc = o0;
            for (; oc + 4 <= o1; oc += 4) {
                int w0 = wOff + oc * C, w1 = w0 + C, w2 = w1 + C, w3 = w2 + C;
                for (int bt = 0; bt < BT; bt++) {
                    int in = inpOff + bt * C;
                    FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
                    for (int i = 0; i < cv; i += L) {
                        FloatVector x = FloatVector.fromArray(S, inp, in + i);
                        a0 = x.fma(FloatVector.fromArray(S, w, w0 + i), a0);
                        a1 = x.fma(FloatVector.fromArray(S, w, w1 + i), a1);
                        a2 = x.fma(FloatVector.fromArray(S, w, w2 + i), a2);
                        a3 = x.fma(FloatVector.fromArray(S, w, w3 + i), a3);
                    }
                    float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
                    float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
                    for (int i = cv; i < C; i++) {
                        float x = inp[in + i];
                        s0 += x * w[w0 + i];
                        s1 += x * w[w1 + i];
                        s2 += x * w[w2 + i];
                        s3 += x * w[w3 + i];
                    }
                    int o = outOff + bt * OC + oc;
                    if (bias != null) {
                        s0 += bias[biasOff + oc];
                        s1 += bias[biasOff + oc + 1];
                        s2 += bias[biasOff + oc + 2];
                        s3 += bias[biasOff + oc + 3];
                    }
                    out[o] = s0;
                    out[o + 1] = s1;
                    out[o + 2] = s2;
                    out[o + 3] = s3;
                }
            }
            for (; oc < o1; oc++) {
                int w0 = wOff + oc * C;
                for (int bt = 0; bt < BT; bt++) {
                    int in = inpOff + bt * C;
                    FloatVector a0 = FloatVector.zero(S);
                    for (int i = 0; i < cv; i += L) {
                        a0 = FloatVector.fromArray(S, inp, in + i).fma(FloatVector.fromArray(S, w, w0 + i), a0);
                    }
                    float s0 = a0.reduceLanes(VectorOperators.ADD);
                    for (int i = cv; i < C; i++) {
                        s0 += inp[in + i] * w[w0 + i];
                    }
                    out[outOff + bt * OC + oc] = bias == null ? s0 : s0 + bias[biasOff + oc];
                }
            }
        });
    }

    /** dbias (OC) += sum over BT of dout (BT,OC), parallel over output channels. */
    static void biasBackward(float[] dbias, int dbiasOff, float[] dout, int doutOff, int BT, int OC) {
        Parallel.forRange(OC, 4 * L, (o0, o1) -> {
            int ov = o0 + (o1 - o0) / L * L;
            for (int oc = o0; oc < ov; oc += L) {
                FloatVector acc = FloatVector.zero(S);
                for (int bt = 0; bt < BT; bt++) {
                    acc = acc.add(FloatVector.fromArray(S, dout, doutOff + bt * OC + oc));
                }
                acc.add(FloatVector.fromArray(S, dbias, dbiasOff + oc)).intoArray(dbias, dbiasOff + oc);
            }
            for (int oc = ov; oc < o1; oc++) {
                float acc = 0f;
                for (int bt = 0; bt < BT; bt++) {
                    acc += dout[doutOff + bt * OC + oc];
                }
                dbias[dbiasOff + oc] += acc;
            }
        });
    }
}
