// SPDX-License-Identifier: GPL-2.0
/*
 * Mapping a ring: VM_PFNMAP, faulted in lazily.
 *
 * A hugepage-backed ring is mapped with one PMD per 2 MiB page wherever
 * the aligned 2 MiB range lies inside the vma and the ring; everything else
 * gets PTEs.  The choice is a function of the range and the vma only, so a
 * range that takes a PMD never gets a page table from us (inserting a PMD
 * over a page table would hit insert_pfn_pmd()'s WARN on a write fault).
 *
 * PMDs are inserted from two places:
 *  - ->fault, at PTE level while the PMD is still empty: 6.1 never calls
 *    ->huge_fault for VM_PFNMAP vmas (hugepage_vma_check() rejects
 *    VM_NO_KHUGEPAGED), and handle_pte_fault() leaves the page table
 *    unallocated so that ->fault may install a huge entry;
 *  - ->huge_fault, which 6.12 calls first (CONFIG_ARCH_SUPPORTS_PMD_PFNMAP)
 *    and both call for write faults on a read-only PMD.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/pfn_t.h>

#include "internal.h"

static void bcast_vm_flags_set(struct vm_area_struct *vma, vm_flags_t set,
			       vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/* Offset in the ring of the page at @vmf->address. */
static u64 bcast_fault_off(const struct vm_fault *vmf)
{
	return (u64)vmf->pgoff << PAGE_SHIFT;
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/* Does the 2 MiB range around the fault address take a PMD? */
static bool bcast_pmd_range(const struct vm_fault *vmf,
			    const struct bcast_ring *ring)
{
	const struct vm_area_struct *vma = vmf->vma;
	unsigned long haddr = vmf->address & PMD_MASK;
	u64 off = bcast_fault_off(vmf);

	if (!bcast_mem_huge(&ring->mem))
		return false;
	/* The ring's 2 MiB pages must line up with virtual 2 MiB ranges. */
	if ((vmf->address - off) & ~PMD_MASK)
		return false;
	if (haddr < vma->vm_start || haddr + PMD_SIZE > vma->vm_end)
		return false;
	return (off & PMD_MASK) + PMD_SIZE <= ring->mem.size;
}

static vm_fault_t bcast_insert_pmd(struct vm_fault *vmf,
				   struct bcast_ring *ring)
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
#else
static bool bcast_pmd_range(const struct vm_fault *vmf,
			    const struct bcast_ring *ring)
{
	return false;
}

static vm_fault_t bcast_insert_pmd(struct vm_fault *vmf,
				   struct bcast_ring *ring)
{
	return VM_FAULT_FALLBACK;
}
#endif

static vm_fault_t bcast_fault(struct vm_fault *vmf)
{
	struct bcast_ring *ring = vmf->vma->vm_private_data;
	u64 off = bcast_fault_off(vmf);
	pmd_t pmd = READ_ONCE(*vmf->pmd);

	if (off >= ring->mem.size)
		return VM_FAULT_SIGBUS;
	if (pmd_none(pmd)) {
		if (bcast_pmd_range(vmf, ring))
			return bcast_insert_pmd(vmf, ring);
	} else if (!pmd_present(pmd) || pmd_trans_huge(pmd) ||
		   pmd_devmap(pmd)) {
		/* A racing fault installed the PMD: nothing left to do. */
		return VM_FAULT_NOPAGE;
	}
	/* No PMD range, or a page table left by an earlier vma layout. */
	return vmf_insert_pfn(vmf->vma, vmf->address & PAGE_MASK,
			      bcast_mem_pfn(&ring->mem, off));
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
	struct bcast_ring *ring = vmf->vma->vm_private_data;

	if (!pmd || bcast_fault_off(vmf) >= ring->mem.size ||
	    !bcast_pmd_range(vmf, ring))
		return VM_FAULT_FALLBACK;
	return bcast_insert_pmd(vmf, ring);
}

static const struct vm_operations_struct bcast_vm_ops = {
	.fault = bcast_fault,
	.huge_fault = bcast_huge_fault,
};

/*
 * MAP_SHARED only, from offset 0, no longer than the ring.  A reader's
 * mapping can never become writable: do_mmap() already refuses PROT_WRITE
 * on a file without FMODE_WRITE; clearing VM_MAYWRITE makes mprotect()
 * refuse it too.  (For such files do_mmap() turns MAP_SHARED into
 * VM_MAYSHARE without VM_SHARED, hence the test on VM_MAYSHARE.)
 */
int bcast_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct bcast_file *bf = file->private_data;
	struct bcast_ring *ring = bf->ring;
	unsigned long len = vma->vm_end - vma->vm_start;

	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff || len > ring->mem.size)
		return -EINVAL;
	if (!(file->f_mode & FMODE_WRITE)) {
		if (vma->vm_flags & VM_WRITE)
			return -EACCES;
		bcast_vm_flags_set(vma, 0, VM_MAYWRITE);
	}
	bcast_vm_flags_set(vma, VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP |
			   VM_HUGEPAGE, 0);
	vma->vm_ops = &bcast_vm_ops;
	vma->vm_private_data = ring;
	return 0;
}
