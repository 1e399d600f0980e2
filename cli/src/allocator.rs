//! The allocator: mimalloc (the router and subgraphs allocate many small JSON values
//! per request), told to commit arena memory on demand and to give freed memory back
//! to the OS after 100 ms unused: that keeps the resident set small. (Giving it back
//! at once cost a `madvise` and a page fault or more per request: 10 % of the
//! requests a router on one core served, for 1 MiB less resident memory.)
//!
//! The options must be set before the first allocation, which Rust's runtime makes
//! before `main`; so on Linux they are set from an `.init_array` constructor.

/// mimalloc's `mi_option_arena_eager_commit` (`mimalloc.h`, option 4).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, option 15), in milliseconds.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// How long freed memory stays committed before it goes back to the OS.
const PURGE_AFTER_MS: std::os::raw::c_long = 100;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs [`configure`] before `main` (and before any Rust allocation).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static CONFIGURE_BEFORE_MAIN: extern "C" fn() = configure;

/// Commits arenas on demand and purges memory unused for 100 ms.
#[cfg(target_os = "linux")]
extern "C" fn configure() {
    // SAFETY: `mi_option_set` only stores an option value (it does not allocate); both
    // options exist in the mimalloc that libmimalloc-sys builds and accept these values.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_AFTER_MS);
    }
}
