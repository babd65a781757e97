//! The allocator every Baton binary uses: mimalloc, asked for a block the way it serves one
//! fastest.
//!
//! A run allocates many small, short-lived values a node (events, decisions, outputs), and
//! mimalloc serves them in a fraction of glibc malloc's instructions (BENCHMARKS.md). The
//! `mimalloc` crate's allocator asks for every block through `mi_malloc_aligned`, even for an
//! alignment of 1 or 8. mimalloc v3 serves such a request at once only when the size is at most
//! 1 KiB and its page has a free block at hand. Otherwise, for a size whose block is not a power
//! of two, it takes a block for `max(size, 16) + alignment - 1` bytes, which may be of a larger
//! class, rather than refilling the page the ordinary way (`alloc-aligned.c`): about one
//! allocation in fifteen of a simulated run, and every such request over 1 KiB. Every mimalloc
//! block is a whole number of words from a page start aligned to 16 bytes, so any block is
//! aligned to a word; a plain `mi_malloc` serves those alignments, and only larger ones take the
//! aligned path. That is 3% fewer instructions a simulated node (callgrind).
//!
//! Do not turn on `libmimalloc-sys`'s `debug` feature: its guarded allocations
//! (`MIMALLOC_GUARDED_*`) can place a block at any byte, which breaks the word alignment relied
//! on here.
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

    /// Every size a run allocates, at every alignment up to a page, comes back aligned and
    /// usable, and keeps its bytes and alignment when it grows.
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
                    a.dealloc(q, Layout::from_size_align(bigger, align).expect("a valid layout"));
                }
            }
        }
    }

    /// A zeroed block is zero even when it is one freed a moment ago, dirty: half of a page's
    /// worth of blocks are filled and freed (the other half keeps the page in use), and the
    /// zeroed blocks asked for next are made from them.
    #[test]
    fn zeroed_blocks_are_zero_though_made_from_dirty_freed_ones() {
        let a = Mimalloc;
        for size in [8, 24, 40, 100, 256, 1000, 5000] {
            for align in [1, 8, 16, 64] {
                let layout = Layout::from_size_align(size, align).expect("a valid layout");
                // SAFETY: a non-zero size; every block is freed once, with its layout.
                unsafe {
                    let blocks: Vec<*mut u8> = (0..512).map(|_| a.alloc(layout)).collect();
                    for &b in &blocks {
                        assert!(!b.is_null());
                        b.write_bytes(0xab, size);
                    }
                    for &b in blocks.iter().step_by(2) {
                        a.dealloc(b, layout);
                    }
                    let zeroed: Vec<*mut u8> = (0..256).map(|_| a.alloc_zeroed(layout)).collect();
                    for &z in &zeroed {
                        assert_eq!(z as usize % align, 0, "zeroed {size} bytes at {align}");
                        assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0), "zeroed {size} bytes at {align}");
                    }
                    for &b in blocks.iter().skip(1).step_by(2).chain(&zeroed) {
                        a.dealloc(b, layout);
                    }
                }
            }
        }
    }
}
