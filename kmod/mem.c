// SPDX-License-Identifier: GPL-2.0
/*
 * Ring memory: 2 MiB compound pages from the buddy allocator, or, when
 * not all of them can be had, order-0 pages for the whole ring.  Zeroed.
 * Every byte is charged against max_total before it is allocated, and
 * every page (and the page array) to the memory cgroup of the creating
 * task (__GFP_ACCOUNT: kernel memory of that cgroup, uncharged when the
 * page is freed, whoever frees it).  Over the cgroup's limit the
 * allocation fails (-ENOMEM) rather than invoking the OOM killer:
 * __GFP_NORETRY and __GFP_RETRY_MAYFAIL both make the charge give up.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "internal.h"

static atomic64_t bcast_total = ATOMIC64_INIT(0);

u64 bcast_mem_total(void)
{
	return atomic64_read(&bcast_total);
}

static int bcast_mem_charge(u64 bytes)
{
	if (bytes > bcast_max_total)
		return -ENOSPC;
	if ((u64)atomic64_add_return(bytes, &bcast_total) > bcast_max_total) {
		atomic64_sub(bytes, &bcast_total);
		return -ENOSPC;
	}
	return 0;
}

static void bcast_mem_uncharge(u64 bytes)
{
	atomic64_sub(bytes, &bcast_total);
}

static void bcast_mem_free_pages(struct bcast_mem *mem, unsigned long n)
{
	while (n--) {
		__free_pages(mem->pages[n], mem->order);
		cond_resched();
	}
	kvfree(mem->pages);
	mem->pages = NULL;
}

static gfp_t bcast_mem_gfp(unsigned int order)
{
	if (order)
		return GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_COMP |
		       __GFP_NOWARN | __GFP_NORETRY;
	/* A big ring must fail with -ENOMEM, not invoke the OOM killer. */
	return GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN |
	       __GFP_RETRY_MAYFAIL;
}

/* @size is a multiple of the block size 2^order pages. */
static int bcast_mem_alloc_order(struct bcast_mem *mem, u64 size,
				 unsigned int order)
{
	unsigned long i, nr = size >> (PAGE_SHIFT + order);
	gfp_t gfp = bcast_mem_gfp(order);
	int err;

	err = bcast_mem_charge(size);
	if (err)
		return err;
	mem->pages = kvcalloc(nr, sizeof(*mem->pages),
			      GFP_KERNEL_ACCOUNT | __GFP_RETRY_MAYFAIL);
	if (!mem->pages) {
		err = -ENOMEM;
		goto uncharge;
	}
	mem->order = order;
	for (i = 0; i < nr; i++) {
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			goto free;
		}
		mem->pages[i] = alloc_pages(gfp, order);
		if (!mem->pages[i]) {
			err = -ENOMEM;
			goto free;
		}
		cond_resched();
	}
	mem->nr = nr;
	mem->size = size;
	return 0;

free:
	bcast_mem_free_pages(mem, i);
uncharge:
	bcast_mem_uncharge(size);
	return err;
}

/*
 * Allocate at least @bytes (a multiple of PAGE_SIZE).  With @huge, try
 * 2 MiB pages (the size rounded up to 2 MiB) first.
 */
int bcast_mem_alloc(struct bcast_mem *mem, u64 bytes, bool huge)
{
	int err;

	if (!bytes || bytes > bcast_max_total || !PAGE_ALIGNED(bytes))
		return -EINVAL;
	if (huge && IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE)) {
		err = bcast_mem_alloc_order(mem, round_up(bytes, BCAST_HUGE_SIZE),
					    BCAST_HUGE_ORDER);
		if (!err || err == -EINTR)
			return err;
		pr_info("%s for %llu bytes: using 4 KiB pages\n",
			err == -ENOSPC ? "2 MiB rounding exceeds max_total" :
					 "no 2 MiB pages", bytes);
	}
	return bcast_mem_alloc_order(mem, bytes, 0);
}

void bcast_mem_free(struct bcast_mem *mem)
{
	if (!mem->pages)
		return;
	bcast_mem_free_pages(mem, mem->nr);
	bcast_mem_uncharge(mem->size);
	mem->nr = 0;
	mem->size = 0;
}

/* Kernel address of byte @off; valid up to the end of its block. */
void *bcast_mem_addr(const struct bcast_mem *mem, u64 off)
{
	unsigned int shift = PAGE_SHIFT + mem->order;

	return page_address(mem->pages[off >> shift]) +
	       (off & ((1ULL << shift) - 1));
}

unsigned long bcast_mem_pfn(const struct bcast_mem *mem, u64 off)
{
	unsigned int shift = PAGE_SHIFT + mem->order;

	return page_to_pfn(mem->pages[off >> shift]) +
	       ((off & ((1ULL << shift) - 1)) >> PAGE_SHIFT);
}
