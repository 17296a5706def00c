/*
 * test_locked.c -- the table that holds KEKs and customer layer secrets:
 * elements come zeroed, keep their address while the table grows across
 * chunks, stop at the maximum, and the table starts empty again after
 * cf_locked_free.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "base/locked.h"

typedef struct {
    unsigned char secret[48];
    int used;
} elem;

Test(locked, elements_are_zeroed_and_stay_put_across_chunks)
{
    cf_locked t = CF_LOCKED_INIT(elem, 4, 10);
    elem *first[10];
    for (int i = 0; i < 10; i++) {
        elem *e = cf_locked_add(&t);
        cr_assert_not_null(e, "element %d", i);
        for (size_t k = 0; k < sizeof(e->secret); k++)
            cr_assert_eq(e->secret[k], 0, "element %d comes zeroed", i);
        memset(e->secret, 0xa0 + i, sizeof(e->secret));
        e->used = i + 1;
        first[i] = e;
    }
    cr_assert_null(cf_locked_add(&t), "the maximum holds");
    cr_assert_eq(t.n, 10);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(cf_locked_at(&t, (size_t)i), first[i], "element %d has not moved", i);
        cr_assert_eq(first[i]->used, i + 1);
        cr_assert_eq(first[i]->secret[47], 0xa0 + i);
    }
    cf_locked_free(&t);
    cr_assert_eq(t.n, 0);
    elem *again = cf_locked_add(&t);
    cr_assert_not_null(again);
    cr_assert_eq(again->used, 0, "a new table after free");
    cf_locked_free(&t);
    cf_locked_free(&t); /* twice: nothing */
}

Test(locked, chunks_come_only_as_the_table_grows)
{
    cf_locked t = CF_LOCKED_INIT(elem, 64, 4096);
    cr_assert_null(t.chunks);
    cr_assert_not_null(cf_locked_add(&t));
    cr_assert_not_null(t.chunks[0]);
    cr_assert_null(t.chunks[1], "one element: one chunk");
    for (int i = 1; i < 65; i++)
        cr_assert_not_null(cf_locked_add(&t));
    cr_assert_not_null(t.chunks[1]);
    cr_assert_null(t.chunks[2]);
    cf_locked_free(&t);
}
