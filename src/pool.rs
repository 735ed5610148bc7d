//! ferroprop's own thread pool: every parallel product, split batch and update runs on it,
//! never on rayon's global pool.
//!
//! Rules that make deadlocks impossible (see also `PyNetwork` in `python/network.rs`):
//! - A pool task never blocks on anything but other pool tasks: no lock, no GIL, no channel.
//!   The training loop runs on the pool between epochs only; callbacks, publishing the
//!   weights and signal checks happen on the calling thread while no pool task waits.
//! - So every thread waiting on the pool is waiting on work that always finishes.
//!
//! Fork: a child process inherits the pool's data but none of its threads, so waiting on
//! it would wait forever. A `pthread_atfork` handler counts forks in the child; a call that
//! finds the count changed since the pool was built builds a new pool there and leaks the
//! dead one (its threads do not exist, so it must not be dropped).

use rayon::ThreadPool;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The threads parallel work uses now: `set_num_threads`' limit if one was set (a
/// threadpoolctl limit, say), otherwise `FERROPROP_NUM_THREADS`, otherwise
/// `OMP_NUM_THREADS` (which joblib and Dask set in their workers to share the cores),
/// otherwise the number of CPUs. Results never depend on it.
pub fn num_threads() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        0 => default_threads(),
        limit => limit,
    }
}

/// Limits parallel work to `threads` (at least 1, at most the pool's size); 0 goes back
/// to the default of `num_threads`.
pub fn set_num_threads(threads: usize) {
    LIMIT.store(threads.min(pool_size()), Ordering::Relaxed);
}

/// 0, or the limit `set_num_threads` set.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

fn default_threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        let var = |name| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|&t| t > 0)
        };
        var("FERROPROP_NUM_THREADS")
            .or_else(|| var("OMP_NUM_THREADS"))
            .unwrap_or_else(cpus)
            .min(MAX_THREADS)
    })
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// More threads than this are never started, whatever the environment asks for.
const MAX_THREADS: usize = 1024;

/// Threads in the pool: enough for the default and for any limit up to the CPU count.
fn pool_size() -> usize {
    default_threads().max(cpus()).min(MAX_THREADS)
}

static POOL: AtomicPtr<ThreadPool> = AtomicPtr::new(std::ptr::null_mut());
/// The value of `FORKS` when `POOL` was built.
static BUILT_AT: AtomicU32 = AtomicU32::new(0);
/// Forks this process descends from (counted in each child since the first pool).
static FORKS: AtomicU32 = AtomicU32::new(0);

/// The pool of this process, built on first use (and again in a forked child).
fn pool() -> &'static ThreadPool {
    let current = POOL.load(Ordering::Acquire);
    if !current.is_null() && BUILT_AT.load(Ordering::Acquire) == FORKS.load(Ordering::Acquire) {
        // SAFETY: pools are leaked, never freed, once published.
        return unsafe { &*current };
    }
    count_forks();
    let forks = FORKS.load(Ordering::Acquire);
    let fresh = Box::into_raw(Box::new(build()));
    match POOL.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            BUILT_AT.store(forks, Ordering::Release);
            // SAFETY: just published and never freed.
            unsafe { &*fresh }
        }
        Err(_) => {
            // Another thread of this process built one first: use it, drop ours (its
            // threads are alive, so dropping it is a normal shutdown).
            // SAFETY: `fresh` was never published.
            drop(unsafe { Box::from_raw(fresh) });
            pool()
        }
    }
}

/// Registers the fork counter, once per process tree.
fn count_forks() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    #[cfg(unix)]
    REGISTERED.call_once(|| {
        extern "C" fn child() {
            FORKS.fetch_add(1, Ordering::AcqRel);
        }
        // SAFETY: `child` only touches an atomic, which is async-signal-safe.
        unsafe { libc::pthread_atfork(None, None, Some(child)) };
    });
    #[cfg(not(unix))]
    REGISTERED.call_once(|| {});
}

fn build() -> ThreadPool {
    let threads = pool_size();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("ferroprop-{i}"))
        .build()
        .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
        .expect("a one-thread pool can always be built")
}

/// Runs `f` on the pool (in place if this thread is one of its workers), waiting for it.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    let pool = pool();
    match pool.current_thread_index() {
        Some(_) => f(),
        None => pool.install(f),
    }
}

/// `rayon::join` on the pool.
pub fn join<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    install(|| rayon::join(a, b))
}

/// Runs `work` on a pool thread while this thread calls `wait` every `every` until it
/// is done; the pool task itself never waits on this thread.
///
/// Meanwhile the pool's other threads within `num_threads` stay awake (`keep_awake`): a
/// fit's products split in halves many times a second, and a sleeping thread took longer
/// to wake than a half of a mid-sized product takes.
pub fn run_while<R: Send>(
    work: impl FnOnce() -> R + Send,
    every: std::time::Duration,
    mut wait: impl FnMut(),
) -> R {
    let pool = pool();
    if pool.current_thread_index().is_some() {
        return work();
    }
    let (done, finished) = std::sync::mpsc::channel();
    let awake = Awake {
        done: AtomicBool::new(false),
        worker: AtomicUsize::new(usize::MAX),
        threads: num_threads(),
    };
    pool.in_place_scope(|scope| {
        if awake.threads > 1 {
            scope.spawn_broadcast(|_, ctx| awake.keep_awake(ctx.index()));
        }
        scope.spawn(|_| {
            awake.worker.store(
                pool.current_thread_index().unwrap_or(usize::MAX),
                Ordering::Release,
            );
            // Set even if `work` panics, so that the threads kept awake return.
            let _done = SetOnDrop(&awake.done);
            let _ = done.send(work());
        });
        loop {
            match finished.recv_timeout(every) {
                Ok(result) => break Some(result),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => wait(),
                // `work` panicked: the end of the scope raises its panic again.
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break None,
            }
        }
    })
    .expect("the pool task sent its result or panicked")
}

/// What `run_while`'s other threads watch.
struct Awake {
    /// Set when the work is over.
    done: AtomicBool,
    /// The index of the pool thread running the work, once it runs.
    worker: AtomicUsize,
    /// `num_threads` when the work started: threads of higher index stay asleep.
    threads: usize,
}

impl Awake {
    /// Until the work is done, runs the pool's pending tasks (the halves the work's
    /// thread splits off), spinning between them rather than sleeping.
    ///
    /// The work's own thread may pick this task up while it waits inside the work (in a
    /// join): it returns at once there, since the work could not go on until it did. No
    /// other thread can be inside the work when it picks this up: a thread finds its
    /// broadcast tasks before it steals, and this one was sent before the work began.
    fn keep_awake(&self, index: usize) {
        if index >= self.threads {
            return;
        }
        while !self.done.load(Ordering::Acquire) {
            if self.worker.load(Ordering::Acquire) == index {
                return;
            }
            match rayon::yield_now() {
                Some(rayon::Yield::Executed) => {}
                _ => std::hint::spin_loop(),
            }
        }
    }
}

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// `num_threads` for threadpoolctl's controller (`ferroprop._threadpoolctl`), which calls
/// it through the extension's C symbols as it does OpenBLAS's.
#[no_mangle]
pub extern "C" fn ferroprop_get_num_threads() -> std::os::raw::c_int {
    num_threads().min(std::os::raw::c_int::MAX as usize) as std::os::raw::c_int
}

/// `set_num_threads` for threadpoolctl's controller; values below 1 count as 1.
#[no_mangle]
pub extern "C" fn ferroprop_set_num_threads(threads: std::os::raw::c_int) {
    set_num_threads(threads.max(1) as usize);
}

/// The crate's version, for threadpoolctl's controller.
#[no_mangle]
pub extern "C" fn ferroprop_version() -> *const std::os::raw::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_on_the_pool_and_nests() {
        let on_pool = install(|| pool().current_thread_index().is_some());
        assert!(on_pool);
        let (a, b) = join(|| join(|| 1, || 2), || 3);
        assert_eq!((a, b), ((1, 2), 3));
        let mut calls = 0;
        let r = run_while(|| 7, std::time::Duration::from_millis(1), || calls += 1);
        assert_eq!(r, 7);
    }

    #[test]
    fn threads_kept_awake_never_block_the_work() {
        // Fits on several threads at once, each splitting its work many times, with the
        // pool's threads kept awake for each: every one of them ends.
        let (ended, ends) = std::sync::mpsc::channel();
        for caller in 0..4u64 {
            let ended = ended.clone();
            std::thread::spawn(move || {
                let mut total = 0;
                for round in 0..50u64 {
                    total += run_while(
                        || {
                            (0..20u64)
                                .map(|i| {
                                    let (a, b) = join(|| join(|| i, || round).0, || caller);
                                    a + b
                                })
                                .sum::<u64>()
                        },
                        std::time::Duration::from_micros(50),
                        || {},
                    );
                }
                ended.send((caller, total)).unwrap();
            });
        }
        for _ in 0..4 {
            let end = ends.recv_timeout(std::time::Duration::from_secs(60));
            let (caller, total) = end.expect("a run_while never ended");
            assert_eq!(total, 50 * (190 + 20 * caller));
        }
    }

    #[test]
    fn limits_stay_between_one_and_the_pool_size() {
        let default = num_threads();
        ferroprop_set_num_threads(-3);
        assert_eq!(ferroprop_get_num_threads(), 1);
        set_num_threads(usize::MAX);
        assert_eq!(num_threads(), pool_size());
        set_num_threads(0);
        assert_eq!(num_threads(), default);
    }
}
