//! The blocks gemm packs its operands into, kept between products.
//!
//! gemm allocates one buffer per product call (`kc × nc` values of the packed operand) and
//! frees it at the end. Through the C allocator, those buffers land in the arena of each
//! pool thread and stay resident there, scattered between smaller blocks, so a fit's peak
//! memory held several times the buffers in use. `Packing`, the global allocator of the
//! Python extension and of the tests, serves the allocations of `MIN_BYTES` to
//! `MAX_BYTES` made inside `packing(..)` (ferroprop's gemm calls) from at most `SLOTS`
//! blocks it keeps: a block freed by one product serves the next one that fits, on any
//! thread. A miss replaces the smallest free block (or takes an empty slot), so the blocks
//! held tend to the products' largest buffer times the products running at once; beyond
//! `KEEP_BYTES` of blocks, a block given back is freed. Every other allocation goes to the
//! system allocator unchanged.
//!
//! The table is lock-free (a forked child cannot inherit a held lock): each slot moves
//! between empty, free and busy by compare-and-swap, and a thread that claims a slot to
//! fill or replace it owns it alone until it publishes the slot busy.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

/// Runs `f` with this thread's allocations of at least `MIN_BYTES` served from the kept
/// blocks (when `Packing` is the global allocator).
pub fn packing<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            PACKING.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(PACKING.with(|p| p.replace(true)));
    f()
}

thread_local! {
    // Const-initialized and without destructors: safe to use inside the allocator.
    static PACKING: Cell<bool> = const { Cell::new(false) };
    static TAKEN: Cell<usize> = const { Cell::new(0) };
}

/// Allocations this thread had served from the kept blocks.
pub fn taken() -> usize {
    TAKEN.with(|t| t.get())
}

/// Smaller allocations (gemm's flags, `vec![false; mc / MR]`) go to the system allocator.
const MIN_BYTES: usize = 64 << 10;
/// Larger ones too: nothing of gemm's is this large, and no block this large is kept.
const MAX_BYTES: usize = 64 << 20;
/// Blocks kept at most: more than the products that run at once on ferroprop's threads.
const SLOTS: usize = 8;
/// Beyond this many bytes of blocks (address space: what a product does not write is
/// never resident), a block given back is freed rather than kept.
const KEEP_BYTES: usize = 128 << 20;
/// Every block is aligned to a page, which satisfies any alignment gemm asks for.
const BLOCK_ALIGN: usize = 4096;

const EMPTY: u8 = 0;
const FREE: u8 = 1;
const BUSY: u8 = 2;
/// Claimed by one thread to fill or replace its block.
const CHANGING: u8 = 3;

struct Slot {
    state: AtomicU8,
    ptr: AtomicPtr<u8>,
    /// The block's size; read only in `FREE` and `BUSY`, written only in `CHANGING`.
    bytes: AtomicUsize,
}

/// The kept blocks.
pub struct Blocks {
    slots: [Slot; SLOTS],
    /// Requests served, and blocks allocated from the system for them (`stats`).
    served: AtomicUsize,
    misses: AtomicUsize,
}

impl Blocks {
    pub const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    state: AtomicU8::new(EMPTY),
                    ptr: AtomicPtr::new(std::ptr::null_mut()),
                    bytes: AtomicUsize::new(0),
                }
            }; SLOTS],
            served: AtomicUsize::new(0),
            misses: AtomicUsize::new(0),
        }
    }

    /// Whether `layout` is one the blocks serve.
    fn serves(layout: Layout) -> bool {
        (MIN_BYTES..=MAX_BYTES).contains(&layout.size()) && layout.align() <= BLOCK_ALIGN
    }

    /// A block of at least `layout.size()` bytes, or None (the caller asks the system):
    /// all slots busy, or the system out of memory.
    fn take(&self, layout: Layout) -> Option<*mut u8> {
        let need = layout.size();
        // The smallest free block that fits; another thread may claim it first.
        for _ in 0..SLOTS {
            let fits = self
                .slots
                .iter()
                .filter(|s| s.state.load(Ordering::Acquire) == FREE);
            let Some(slot) = fits
                .map(|s| (s, s.bytes.load(Ordering::Relaxed)))
                .filter(|&(_, bytes)| bytes >= need)
                .min_by_key(|&(_, bytes)| bytes)
                .map(|(s, _)| s)
            else {
                break;
            };
            if claim(slot, FREE, BUSY) {
                // Between the look and the claim the slot may have been refilled with a
                // smaller block (and freed again): check what was claimed.
                if slot.bytes.load(Ordering::Relaxed) >= need {
                    self.served.fetch_add(1, Ordering::Relaxed);
                    return Some(slot.ptr.load(Ordering::Relaxed));
                }
                slot.state.store(FREE, Ordering::Release);
            }
        }
        // None fits: replace the smallest free block, or fill an empty slot.
        let free = self
            .slots
            .iter()
            .filter(|s| s.state.load(Ordering::Acquire) == FREE);
        let victim = free
            .min_by_key(|s| s.bytes.load(Ordering::Relaxed))
            .filter(|s| claim(s, FREE, CHANGING));
        let slot = match victim {
            Some(slot) => {
                let (ptr, bytes) = (
                    slot.ptr.load(Ordering::Relaxed),
                    slot.bytes.load(Ordering::Relaxed),
                );
                // SAFETY: the block was allocated below with this layout, and nobody uses
                // it: it was free, and this thread claimed it.
                unsafe { System.dealloc(ptr, block_layout(bytes)) };
                slot
            }
            None => self.slots.iter().find(|s| claim(s, EMPTY, CHANGING))?,
        };
        // Rounded up to a power of two so that products of nearby sizes share a block;
        // the pages past what a product writes are never touched, so never resident.
        // Where address space is short (a limit on it), the exact size may still fit.
        let sizes = [need.next_power_of_two(), need.next_multiple_of(BLOCK_ALIGN)];
        let block = sizes.into_iter().find_map(|bytes| {
            // SAFETY: the layout's size is not zero.
            let ptr = unsafe { System.alloc(block_layout(bytes)) };
            (!ptr.is_null()).then_some((ptr, bytes))
        });
        let Some((ptr, bytes)) = block else {
            slot.state.store(EMPTY, Ordering::Release);
            return None;
        };
        self.served.fetch_add(1, Ordering::Relaxed);
        self.misses.fetch_add(1, Ordering::Relaxed);
        slot.ptr.store(ptr, Ordering::Relaxed);
        slot.bytes.store(bytes, Ordering::Relaxed);
        slot.state.store(BUSY, Ordering::Release);
        Some(ptr)
    }

    /// Marks the block at `ptr` free, or returns false if `ptr` is not one of them.
    fn give_back(&self, ptr: *mut u8) -> bool {
        // A busy block's pointer does not change until it is free again: only its owner,
        // this thread, frees it.
        let held = self.slots.iter().find(|s| {
            s.state.load(Ordering::Acquire) == BUSY && s.ptr.load(Ordering::Relaxed) == ptr
        });
        let Some(slot) = held else {
            return false;
        };
        if self.stats().bytes <= KEEP_BYTES {
            slot.state.store(FREE, Ordering::Release);
        } else {
            // More than a fit's worth kept (products of a very large network once): this
            // one goes back to the system.
            slot.state.store(CHANGING, Ordering::Relaxed);
            let bytes = slot.bytes.load(Ordering::Relaxed);
            // SAFETY: allocated in `take` with this layout; busy until now, and this
            // thread's.
            unsafe { System.dealloc(ptr, block_layout(bytes)) };
            slot.state.store(EMPTY, Ordering::Release);
        }
        true
    }

    /// What the blocks hold and have done.
    pub fn stats(&self) -> BlockStats {
        let kept = self
            .slots
            .iter()
            .filter(|s| matches!(s.state.load(Ordering::Acquire), FREE | BUSY));
        let (blocks, bytes) = kept.fold((0, 0), |(c, b), s| {
            (c + 1, b + s.bytes.load(Ordering::Relaxed))
        });
        BlockStats {
            blocks,
            bytes,
            served: self.served.load(Ordering::Relaxed),
            allocated: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// A reading of `Blocks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockStats {
    /// Blocks kept now, and their bytes.
    pub blocks: usize,
    pub bytes: usize,
    /// Requests served from the blocks so far, and blocks allocated for them.
    pub served: usize,
    pub allocated: usize,
}

impl Default for Blocks {
    fn default() -> Self {
        Self::new()
    }
}

fn claim(slot: &Slot, from: u8, to: u8) -> bool {
    slot.state
        .compare_exchange(from, to, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
}

fn block_layout(bytes: usize) -> Layout {
    Layout::from_size_align(bytes, BLOCK_ALIGN).expect("a block's size is at most MAX_BYTES")
}

/// The kept blocks of the process.
pub static BLOCKS: Blocks = Blocks::new();

/// The system allocator, with gemm's packing buffers served from `BLOCKS`.
pub struct Packing;

// SAFETY: every pointer handed out is either the system allocator's, for the caller's
// layout, or the start of a kept block at least as large and as aligned as the layout
// asks, busy (owned by the caller) until `dealloc` marks it free; `dealloc` and `realloc`
// tell the two apart by the pointer, so a block is never given to the system allocator.
unsafe impl GlobalAlloc for Packing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Blocks::serves(layout) && PACKING.with(|p| p.get()) {
            if let Some(ptr) = BLOCKS.take(layout) {
                TAKEN.with(|t| t.set(t.get() + 1));
                return ptr;
            }
        }
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Blocks::serves(layout) && PACKING.with(|p| p.get()) {
            if let Some(ptr) = BLOCKS.take(layout) {
                TAKEN.with(|t| t.set(t.get() + 1));
                ptr.write_bytes(0, layout.size());
                return ptr;
            }
        }
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Blocks::serves(layout) && BLOCKS.give_back(ptr) {
            return;
        }
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !(Blocks::serves(layout) && BLOCKS.owns(ptr)) {
            return System.realloc(ptr, layout, new_size);
        }
        // SAFETY (of the caller): `new_size` with `layout.align()` is a valid layout.
        let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

impl Blocks {
    fn owns(&self, ptr: *mut u8) -> bool {
        self.slots.iter().any(|s| {
            s.state.load(Ordering::Acquire) == BUSY && s.ptr.load(Ordering::Relaxed) == ptr
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(bytes: usize) -> Layout {
        Layout::from_size_align(bytes, 64).unwrap()
    }

    #[test]
    fn a_freed_block_serves_the_next_request_that_fits() {
        let blocks = Blocks::new();
        let a = blocks.take(layout(1 << 20)).unwrap();
        assert!(blocks.give_back(a));
        // Smaller, and up to the power of two the block was rounded to: the same block.
        assert_eq!(blocks.take(layout(700 << 10)), Some(a));
        assert!(blocks.give_back(a));
        assert_eq!(blocks.take(layout(1 << 20)), Some(a));
        // A second request while the first block is busy gets a block of its own.
        let b = blocks.take(layout(1 << 20)).unwrap();
        assert_ne!(a, b);
        assert_eq!(
            blocks.stats(),
            BlockStats {
                blocks: 2,
                bytes: 2 << 20,
                served: 4,
                allocated: 2
            }
        );
        assert!(blocks.give_back(a) && blocks.give_back(b));
        // Pointers it did not hand out are not its own.
        assert!(!blocks.give_back(a));
        let mut other = vec![0u8; 1 << 20];
        assert!(!blocks.give_back(other.as_mut_ptr()));
    }

    #[test]
    fn a_larger_request_replaces_the_smallest_free_block() {
        let blocks = Blocks::new();
        let small = blocks.take(layout(100 << 10)).unwrap();
        let large = blocks.take(layout(2 << 20)).unwrap();
        assert!(blocks.give_back(small) && blocks.give_back(large));
        // Both free: the larger request takes the large block, not a new one.
        assert_eq!(blocks.take(layout(1500 << 10)), Some(large));
        // The large block busy: a request larger than the small block replaces it.
        let third = blocks.take(layout(1 << 20)).unwrap();
        let stats = blocks.stats();
        assert_eq!(
            (stats.blocks, stats.bytes, stats.allocated),
            (2, (2 << 20) + (1 << 20), 3)
        );
        assert!(blocks.give_back(large) && blocks.give_back(third));
    }

    #[test]
    fn with_every_slot_busy_the_system_allocates() {
        let blocks = Blocks::new();
        let held: Vec<_> = (0..SLOTS)
            .map(|_| blocks.take(layout(MIN_BYTES)).unwrap())
            .collect();
        assert_eq!(blocks.take(layout(MIN_BYTES)), None);
        for ptr in held {
            assert!(blocks.give_back(ptr));
        }
        let stats = blocks.stats();
        assert_eq!(
            (stats.blocks, stats.bytes, stats.allocated),
            (SLOTS, SLOTS * MIN_BYTES, SLOTS)
        );
        assert!(!Blocks::serves(layout(MIN_BYTES - 1)));
        assert!(!Blocks::serves(layout(MAX_BYTES + 1)));
    }

    #[test]
    fn blocks_beyond_the_kept_bytes_go_back_to_the_system() {
        let blocks = Blocks::new();
        let held: Vec<_> = (0..3)
            .map(|_| blocks.take(layout(MAX_BYTES)).unwrap())
            .collect();
        for &ptr in &held {
            assert!(blocks.give_back(ptr));
        }
        // Three blocks of 64 MiB held: the first given back was freed, the two others
        // kept (128 MiB).
        let stats = blocks.stats();
        assert_eq!((stats.blocks, stats.bytes), (2, 2 * MAX_BYTES));
        assert_eq!(KEEP_BYTES, 2 * MAX_BYTES);
    }

    #[test]
    fn threads_never_share_a_block() {
        let blocks = Blocks::new();
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let blocks = &blocks;
                s.spawn(move || {
                    for i in 0..2000usize {
                        let bytes = MIN_BYTES << (i % 5);
                        let ptr = blocks.take(layout(bytes)).unwrap_or(std::ptr::null_mut());
                        if ptr.is_null() {
                            continue;
                        }
                        // SAFETY: the block is this thread's and at least `bytes` long.
                        let block = unsafe { std::slice::from_raw_parts_mut(ptr, bytes) };
                        block.fill(t);
                        std::thread::yield_now();
                        assert!(block.iter().all(|&v| v == t), "a block was shared");
                        assert!(blocks.give_back(ptr));
                    }
                });
            }
        });
        let stats = blocks.stats();
        assert!(stats.blocks <= SLOTS && stats.allocated >= stats.blocks);
    }

    #[test]
    fn the_global_allocator_serves_packing_scopes_from_the_blocks() {
        let outside = Vec::<u8>::with_capacity(MIN_BYTES);
        assert!(!BLOCKS.owns(outside.as_ptr() as *mut u8));
        let (inside, small) = packing(|| {
            (
                Vec::<u8>::with_capacity(MIN_BYTES),
                Vec::<u8>::with_capacity(64),
            )
        });
        assert!(BLOCKS.owns(inside.as_ptr() as *mut u8));
        assert!(!BLOCKS.owns(small.as_ptr() as *mut u8));
        let ptr = inside.as_ptr() as *mut u8;
        drop(inside);
        assert!(!BLOCKS.owns(ptr), "a dropped buffer's block is free again");
    }

    #[test]
    fn ferroprops_products_pack_into_the_blocks() {
        use ndarray::Array2;
        // dW = aᵀ · dz
        let a = Array2::<f64>::from_shape_fn((300, 400), |(i, j)| (i + j) as f64 * 1e-3);
        let b = Array2::<f64>::from_shape_fn((300, 500), |(i, j)| (i * j) as f64 * 1e-4);
        let mut c = Array2::<f64>::zeros((400, 500));
        // One thread: the product (and gemm's buffer) on this one.
        let before = taken();
        crate::kernels::linalg::serial(|| {
            crate::kernels::linalg::at_b(a.view(), b.view(), c.view_mut())
        });
        assert!(
            taken() > before,
            "gemm's packing buffer came from the system allocator"
        );
        let expected = a.t().dot(&b);
        assert!(c
            .iter()
            .zip(&expected)
            .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0)));
    }
}
