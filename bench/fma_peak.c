/*
 * fp32 FMA peak for bin/bench: each thread runs 12 independent AVX-512 FMA chains (enough to
 * cover FMA latency x throughput on Zen 4/5 and Skylake-X), 16 floats x 2 flops per FMA.
 *
 * usage: fma_peak THREADS   prints: PEAK threads gflops gflopsCpu (median of 5 runs)
 * build: gcc -O2 -mavx512f -mfma -pthread fma_peak.c
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 50000000L
#define CHAINS 12

static double now(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static volatile float sink;

static void *run(void *arg) {
    (void)arg;
    __m512 acc[CHAINS];
    __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_set1_ps((float)i);
    for (long it = 0; it < ITERS; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CHAINS; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 s = acc[0];
    for (int i = 1; i < CHAINS; i++) s = _mm512_add_ps(s, acc[i]);
    sink = _mm512_reduce_add_ps(s);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    double wall[5], cpu[5];
    for (int rep = 0; rep < 5; rep++) {
        pthread_t t[64];
        double c0 = now(CLOCK_PROCESS_CPUTIME_ID), t0 = now(CLOCK_MONOTONIC);
        for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, NULL);
        for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
        wall[rep] = now(CLOCK_MONOTONIC) - t0;
        cpu[rep] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / threads;
    }
    qsort(wall, 5, sizeof(double), cmp);
    qsort(cpu, 5, sizeof(double), cmp);
    double flops = (double)ITERS * CHAINS * 16 * 2 * threads;
    printf("PEAK %d %.1f %.1f\n", threads, flops / wall[2] / 1e9, flops / cpu[2] / 1e9);
    return 0;
}
