//! The allocator every Baton binary uses: mimalloc, asked for a block the way it serves one
//! fastest.
//!
//! A run allocates many small, short-lived values a node (events, decisions, outputs), and
//! mimalloc serves them in a fraction of glibc malloc's instructions (BENCHMARKS.md). The
//! `mimalloc` crate's allocator asks for every block through `mi_malloc_aligned`, even for an
//! alignment of 1 or 8. When the page of the size asked for has no free block at hand (a few
//! times in ten allocations of a simulated run), that path is not the ordinary refill: for a
//! size that is not a power of two it allocates the size plus the alignment from a larger size
//! class and marks the page as holding interior pointers (mimalloc v3, `alloc-aligned.c`).
//! Every mimalloc block is a whole number of words from a page aligned to 16 bytes, so any
//! block is aligned to a word; a plain `mi_malloc` serves those alignments, and only larger
//! ones take the aligned path. That is 3% fewer instructions a simulated node (callgrind).
//!
//! The one module with `unsafe` code (the crate denies it everywhere else): implementing
//! [`GlobalAlloc`] is unsafe by definition.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// mimalloc as the global allocator: `#[global_allocator] static A: Mimalloc = Mimalloc;`.
pub struct Mimalloc;

/// Every mimalloc block is aligned to at least this.
const WORD: usize = std::mem::size_of::<usize>();

// SAFETY: every method hands the request to mimalloc, which returns null or a block of at
// least `layout.size()` bytes: from `mi_malloc` when the alignment is at most a word (every
// mimalloc block is a multiple of a word from a 16-byte-aligned page start), from the aligned
// functions otherwise. `mi_free` takes a block from any of them.
unsafe impl GlobalAlloc for Mimalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions accept any size and power-of-two alignment.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract), so from mimalloc.
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block keeps its
        // alignment (a word by any mimalloc block, or the aligned function's).
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size a run allocates, at every alignment up to a page, comes back aligned, usable
    /// and zeroed when asked, and keeps its bytes and alignment when it grows.
    #[test]
    fn blocks_are_aligned_usable_and_keep_their_bytes_when_they_grow() {
        let a = Mimalloc;
        let sizes = (1..=300).chain([511, 512, 513, 1000, 1024, 4095, 4096, 70_000, 1 << 20]);
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; every block is freed with the layout it was made with.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null(), "{size} bytes at {align}");
                    assert_eq!(p as usize % align, 0, "{size} bytes at {align}");
                    p.write_bytes(0xab, size);
                    let bigger = size * 3 + 5;
                    let q = a.realloc(p, layout, bigger);
                    assert_eq!(q as usize % align, 0, "{size} → {bigger} bytes at {align}");
                    assert!(std::slice::from_raw_parts(q, size).iter().all(|&b| b == 0xab), "{size} bytes at {align}");
                    q.write_bytes(0xcd, bigger);
                    a.dealloc(q, Layout::from_size_align(bigger, align).expect("a valid layout"));
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0, "zeroed {size} bytes at {align}");
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0), "zeroed {size} bytes at {align}");
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
