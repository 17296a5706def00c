/*
 * keyops.c -- library-level benchmark of the vault's software unwrapKey:
 * RSA-3072 RSA-OAEP-256 decryption through keyops_unwrap with N threads
 * (default 8) sharing one parsed EVP_PKEY, as keyvaultd's request threads
 * do. Compare with `openssl speed -seconds S rsa3072` (private ops/s) on
 * the same machine: the gap is keyops' per-call overhead (a fresh
 * EVP_PKEY_CTX and parameters per call) plus thread scheduling.
 *
 *   build/bench-keyops [threads] [seconds]
 * prints one JSON line: {"bench":"keyops_unwrap_rsa3072","threads":8,...}
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vault/keyops.h"

static EVP_PKEY *KEY;
static cf_buf CT;
static atomic_long OPS;
static atomic_int STOP;
static atomic_int FAILED;

static void *run(void *arg)
{
    (void)arg;
    cf_buf pt;
    cf_buf_init(&pt, 0);
    while (!atomic_load(&STOP)) {
        cf_buf_reset(&pt);
        if (keyops_unwrap(&pt, KEY, KEYOPS_RSA_OAEP_256, CT.data, CT.len, NULL) != CF_OK ||
            pt.len != 32)
            atomic_store(&FAILED, 1);
        atomic_fetch_add(&OPS, 1);
    }
    cf_buf_free(&pt);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 8;
    double seconds = argc > 2 ? strtod(argv[2], NULL) : 5;
    if (threads < 1 || threads > 64 || seconds <= 0) {
        fprintf(stderr, "usage: %s [threads 1..64] [seconds]\n", argv[0]);
        return 2;
    }
    cf_err e = {0};
    unsigned char secret[32] = "0123456789abcdef0123456789abcdef";
    cf_buf_init(&CT, 0);
    if (keyops_generate_rsa(&KEY, 3072, 0, &e) != CF_OK ||
        keyops_wrap(&CT, KEY, KEYOPS_RSA_OAEP_256, secret, 32, &e) != CF_OK) {
        fprintf(stderr, "setup: %s\n", e.msg);
        return 1;
    }
    pthread_t t[64];
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, NULL);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&STOP, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double dt = now() - t0;
    printf("{\"bench\":\"keyops_unwrap_rsa3072\",\"threads\":%d,\"seconds\":%.2f,\"ops\":%ld,"
           "\"ops_per_s\":%.1f,\"failed\":%d}\n",
           threads, dt, atomic_load(&OPS), (double)atomic_load(&OPS) / dt, atomic_load(&FAILED));
    EVP_PKEY_free(KEY);
    cf_buf_free(&CT);
    return atomic_load(&FAILED);
}
