/*
 * OpenBLAS reference for bin/bench matmul: the three products of a linear layer with weights
 * [out, in], timed with cblas_sgemm on the same shapes, transposes and thread count as
 * rlhf.bench.MatmulBench.
 *
 *   fwd:  out (BT,OC)  = inp (BT,C) · w (OC,C)^T     NoTrans, Trans
 *   dinp: dinp (BT,C) += dout (BT,OC) · w (OC,C)     NoTrans, NoTrans
 *   dw:   dw (OC,C)   += dout^T · inp (BT,C)         Trans, NoTrans
 *
 * usage: sgemm_bench THREADS BT1,BT2 CxOC,CxOC,... SECONDS
 * prints: RESULT C OC BT op threads gflops gflopsCpu  (medians; gflopsCpu from process CPU time)
 * and one line "CORE name" with openblas_get_corename().
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);

static double now(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *rnd(size_t n, unsigned seed) {
    float *a = malloc(n * sizeof(float));
    if (!a) { fprintf(stderr, "out of memory allocating %zu floats\n", n); exit(1); }
    srand(seed);
    for (size_t i = 0; i < n; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
    return a;
}

static void op(int which, int BT, int C, int OC, float *inp, float *w, float *out, float *dinp, float *dw) {
    if (which == 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, OC, C, 1.0f, inp, C, w, C, 0.0f, out, OC);
    else if (which == 1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, OC, 1.0f, out, OC, w, C, 1.0f, dinp, C);
    else
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, BT, 1.0f, out, OC, inp, C, 1.0f, dw, C);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s THREADS BT1,BT2 CxOC,... SECONDS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[1]);
    double seconds = atof(argv[4]);
    openblas_set_num_threads(threads);
    printf("CORE %s\n", openblas_get_corename());
    static const char *names[] = {"fwd", "dinp", "dw"};
    char *bts = strdup(argv[2]);
    for (char *bs = strtok(bts, ","); bs; bs = strtok(NULL, ",")) {
        int BT = atoi(bs);
        char *shapes = strdup(argv[3]);
        char *save;
        for (char *s = strtok_r(shapes, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
            int C, OC;
            if (sscanf(s, "%dx%d", &C, &OC) != 2) { fprintf(stderr, "bad shape '%s', expected CxOC\n", s); return 2; }
            float *inp = rnd((size_t)BT * C, 1), *w = rnd((size_t)OC * C, 2);
            float *out = rnd((size_t)BT * OC, 3), *dinp = rnd((size_t)BT * C, 4), *dw = rnd((size_t)OC * C, 5);
            double flops = 2.0 * BT * C * OC;
            for (int which = 0; which < 3; which++) {
                double wall[15], cpu[15];
                int n = 0;
                op(which, BT, C, OC, inp, w, out, dinp, dw);
                op(which, BT, C, OC, inp, w, out, dinp, dw);
                double start = now(CLOCK_MONOTONIC);
                while (n < 15 && (n < 3 || now(CLOCK_MONOTONIC) - start < seconds)) {
                    double c0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now(CLOCK_MONOTONIC);
                    op(which, BT, C, OC, inp, w, out, dinp, dw);
                    wall[n] = now(CLOCK_MONOTONIC) - t0;
                    cpu[n++] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / threads;
                }
                qsort(wall, n, sizeof(double), cmp);
                qsort(cpu, n, sizeof(double), cmp);
                printf("RESULT %d %d %d %s %d %.1f %.1f\n", C, OC, BT, names[which], threads,
                       flops / wall[n / 2] / 1e9, flops / cpu[n / 2] / 1e9);
                fflush(stdout);
            }
            free(inp); free(w); free(out); free(dinp); free(dw);
        }
        free(shapes);
    }
    return 0;
}
