// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping a ring: VM_PFNMAP, never pinnable.
 *
 * Ring pages are the module's: no get_user_pages() path (vmsplice,
 * O_DIRECT, io_uring buffer registration, process_vm_readv, RDMA) may take
 * a reference that outlives the ring or escapes max_total.  The slow GUP
 * path refuses VM_PFNMAP vmas (check_vma_flags()); the lockless one has
 * no vma and goes by the entries: it skips special PTEs (pte_special(),
 * which remap_pfn_range() and vmf_insert_pfn() make), and on kernels with
 * CONFIG_ARCH_SUPPORTS_PMD_PFNMAP (6.12) special PMDs, which
 * vmf_insert_pfn_pmd() makes there.  Before that (6.1), gup_huge_pmd()
 * takes a PFNMAP PMD for a normal huge page and grabs a reference on the
 * compound page, so there a hugepage ring is mapped with PTEs only.
 *
 * Where PMDs are used, a 2 MiB range of a hugepage ring gets one PMD if
 * the whole aligned range lies inside the vma and the ring; everything
 * else gets PTEs.  The choice is a function of the range and the vma
 * only, so a range that takes a PMD never gets a page table from us
 * (inserting a PMD over a page table would hit insert_pfn_pmd()'s WARN on
 * a write fault).  PMDs are inserted at fault time, by ->huge_fault (or
 * ->fault when the PMD is still empty); PTEs are all installed by
 * ->mmap (remap_pfn_range()), as MAP_POPULATE does nothing on VM_PFNMAP:
 * a writer takes no page fault on its first lap.  ->fault stays for
 * PTEs that are missing all the same.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/pfn_t.h>
#include <linux/sched/signal.h>

#include "internal.h"

#if defined(CONFIG_TRANSPARENT_HUGEPAGE) && \
	defined(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP)
#define BCAST_PMD_MAPPINGS 1
#else
#define BCAST_PMD_MAPPINGS 0
#endif

/* Offset in the ring of the page at @vmf->address. */
static u64 bcast_fault_off(const struct vm_fault *vmf)
{
	return (u64)vmf->pgoff << PAGE_SHIFT;
}

/*
 * Does the 2 MiB range around @addr take a PMD?  (vm_pgoff is 0 at mmap
 * time, not after the head of the vma was unmapped.)
 */
static bool bcast_pmd_range(const struct vm_area_struct *vma,
			    const struct bcast_kring *ring, unsigned long addr)
{
	unsigned long haddr = addr & PMD_MASK;
	/* The address ring offset 0 has (or would have) in this vma. */
	unsigned long base = vma->vm_start - (vma->vm_pgoff << PAGE_SHIFT);

	if (!BCAST_PMD_MAPPINGS || !bcast_mem_huge(&ring->mem))
		return false;
	/* The ring's 2 MiB pages must line up with virtual 2 MiB ranges. */
	if (base & ~PMD_MASK)
		return false;
	if (haddr < vma->vm_start || haddr + PMD_SIZE > vma->vm_end)
		return false;
	return (u64)(haddr - base) + PMD_SIZE <= ring->mem.size;
}

#if BCAST_PMD_MAPPINGS
static vm_fault_t bcast_insert_pmd(struct vm_fault *vmf,
				   struct bcast_kring *ring)
{
	unsigned long pfn = bcast_mem_pfn(&ring->mem,
					  bcast_fault_off(vmf) & PMD_MASK);
	bool new = pmd_none(READ_ONCE(*vmf->pmd));	/* not a write upgrade */
	vm_fault_t ret;

	ret = vmf_insert_pfn_pmd(vmf, pfn_to_pfn_t(pfn),
				 vmf->flags & FAULT_FLAG_WRITE);
	if (ret == VM_FAULT_NOPAGE && new)
		atomic_long_inc(&ring->pmd_mappings);
	return ret;
}

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
static vm_fault_t bcast_huge_fault(struct vm_fault *vmf, unsigned int order)
{
	bool pmd = order == BCAST_HUGE_ORDER;
#else
static vm_fault_t bcast_huge_fault(struct vm_fault *vmf,
				   enum page_entry_size pe_size)
{
	bool pmd = pe_size == PE_SIZE_PMD;
#endif
	struct bcast_kring *ring = vmf->vma->vm_private_data;

	if (!pmd || bcast_fault_off(vmf) >= ring->mem.size ||
	    !bcast_pmd_range(vmf->vma, ring, vmf->address))
		return VM_FAULT_FALLBACK;
	return bcast_insert_pmd(vmf, ring);
}
#else
static vm_fault_t bcast_insert_pmd(struct vm_fault *vmf,
				   struct bcast_kring *ring)
{
	return VM_FAULT_SIGBUS;		/* bcast_pmd_range() said no */
}
#endif

static vm_fault_t bcast_fault(struct vm_fault *vmf)
{
	struct bcast_kring *ring = vmf->vma->vm_private_data;
	u64 off = bcast_fault_off(vmf);
	pmd_t pmd = READ_ONCE(*vmf->pmd);

	if (off >= ring->mem.size)
		return VM_FAULT_SIGBUS;
	if (pmd_none(pmd)) {
		if (bcast_pmd_range(vmf->vma, ring, vmf->address))
			return bcast_insert_pmd(vmf, ring);
	} else if (!pmd_present(pmd) || pmd_trans_huge(pmd) ||
		   pmd_devmap(pmd)) {
		/* A racing fault installed the PMD: nothing left to do. */
		return VM_FAULT_NOPAGE;
	}
	return vmf_insert_pfn(vmf->vma, vmf->address & PAGE_MASK,
			      bcast_mem_pfn(&ring->mem, off));
}

static const struct vm_operations_struct bcast_vm_ops = {
	.fault = bcast_fault,
#if BCAST_PMD_MAPPINGS
	.huge_fault = bcast_huge_fault,
#endif
};

/*
 * Bytes of ring memory from @off, at most @max, that are physically
 * contiguous (whole blocks of the next ones, while they follow on).
 */
static u64 bcast_mem_run(const struct bcast_mem *mem, u64 off, u64 max)
{
	u64 block = PAGE_SIZE << mem->order;
	unsigned long pfn = bcast_mem_pfn(mem, off);
	u64 len = min(block - (off & (block - 1)), max);

	while (len < max &&
	       bcast_mem_pfn(mem, off + len) == pfn + (len >> PAGE_SHIFT))
		len += min(block, max - len);
	return len;
}

/* Install the PTEs of every range of @vma that takes no PMD. */
static int bcast_populate(struct vm_area_struct *vma, struct bcast_kring *ring)
{
	unsigned long addr = vma->vm_start;
	int err;

	while (addr < vma->vm_end) {
		u64 off = addr - vma->vm_start, len;

		if (bcast_pmd_range(vma, ring, addr)) {
			addr = (addr & PMD_MASK) + PMD_SIZE;
			continue;
		}
		len = bcast_mem_run(&ring->mem, off, vma->vm_end - addr);
		/* A run of small blocks may reach a PMD range: stop there. */
		if (BCAST_PMD_MAPPINGS && bcast_mem_huge(&ring->mem))
			len = min_t(u64, len, PMD_SIZE - (off & ~PMD_MASK));
		err = remap_pfn_range(vma, addr, bcast_mem_pfn(&ring->mem, off),
				      len, vma->vm_page_prot);
		if (err) {
			pr_info("ring '%s': cannot map %llu bytes at offset %llu: %d\n",
				ring->name, len, off, err);
			return err;
		}
		addr += len;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

/*
 * MAP_SHARED only, from offset 0, no longer than the ring, never
 * executable (VM_MAYEXEC cleared, so mprotect() cannot add PROT_EXEC).
 * A reader's mapping can never become writable: do_mmap() already refuses
 * PROT_WRITE on a file without FMODE_WRITE; clearing VM_MAYWRITE makes
 * mprotect() refuse it too.  (For such files do_mmap() turns MAP_SHARED
 * into VM_MAYSHARE without VM_SHARED, hence the test on VM_MAYSHARE.)
 */
int bcast_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bcast_file *bf = file->private_data;
	struct bcast_kring *ring = bf->ring;
	unsigned long len = vma->vm_end - vma->vm_start;
	vm_flags_t set = VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff || len > ring->mem.size)
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EACCES;
	if (!(file->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		bcast_vm_flags_set(vma, 0, VM_MAYWRITE);
	}
	if (BCAST_PMD_MAPPINGS && bcast_mem_huge(&ring->mem))
		set |= VM_HUGEPAGE;
	bcast_vm_flags_set(vma, set, VM_MAYEXEC);
	vma->vm_ops = &bcast_vm_ops;
	vma->vm_private_data = ring;
	return bcast_populate(vma, ring);
}
