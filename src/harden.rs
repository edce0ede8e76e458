//! Process hardening: no core dumps, no ptrace by other users, memory locked where allowed,
//! and SQLite's heap wiped on every free.

use std::ffi::{c_int, c_void};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

/// Disables core dumps and makes the process non-dumpable, as KeePassXC does. Call first
/// thing in `main`; failures are ignored on purpose because the process is still usable.
pub fn harden_process() {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &zero);
        #[cfg(target_os = "linux")]
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Overwrites the value of environment variable `name` where the process's environment
/// block keeps it (what `/proc/PID/environ` shows to the user's other processes and to root),
/// then removes the variable, so a passphrase given by environment does not stay readable.
pub fn scrub_env(name: &str) {
    unsafe extern "C" {
        static mut environ: *mut *mut std::ffi::c_char;
    }
    // SAFETY: kluis reads secrets from the environment at the start of a command, before it
    // starts any thread; each entry is a NUL-terminated string we only overwrite within its
    // own length, and the environ array ends with a null pointer.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = std::ffi::CStr::from_ptr(*entry).to_bytes();
            if text.len() > name.len()
                && text.starts_with(name.as_bytes())
                && text[name.len()] == b'='
            {
                let value = (*entry).add(name.len() + 1);
                std::ptr::write_bytes(value, 0, text.len() - name.len() - 1);
            }
            entry = entry.add(1);
        }
        std::env::remove_var(name);
    }
}

/// Tries to keep `bytes` out of swap. Quietly does nothing when RLIMIT_MEMLOCK is too low:
/// most desktop users have 8 MiB, and refusing to run would protect nobody.
pub fn mlock_slice(bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    // SAFETY: the range is a live allocation; mlock does not touch its contents.
    unsafe {
        libc::mlock(bytes.as_ptr().cast(), bytes.len());
    }
}

fn munlock_raw(ptr: *const u8, len: usize) {
    // SAFETY: munlock on a range we mlocked (or tried to); failure is harmless.
    unsafe {
        libc::munlock(ptr.cast(), len);
    }
}

// Allocations at least this large are decrypted database images or page caches: worth
// locking. Small ones are not worth a syscall each.
const MLOCK_MIN: usize = 64 * 1024;
// The header keeps the usable size in front of each block; 16 keeps malloc's alignment.
const HEADER: usize = 16;

unsafe extern "C" fn wiping_malloc(n: c_int) -> *mut c_void {
    if n <= 0 {
        return std::ptr::null_mut();
    }
    let n = n as usize;
    // SAFETY: malloc with a non-zero size; the header is written inside the block.
    unsafe {
        let base = libc::malloc(n + HEADER).cast::<u8>();
        if base.is_null() {
            return std::ptr::null_mut();
        }
        base.cast::<usize>().write(n);
        let user = base.add(HEADER);
        if n >= MLOCK_MIN {
            libc::mlock(user.cast(), n);
        }
        user.cast()
    }
}

/// Overwrites `n` bytes at `p` with zeros in a way the optimizer may not remove. glibc's
/// explicit_bzero runs at memset speed; zeroize's volatile byte loop is several times slower,
/// which showed up in search latency since SQLite frees buffers constantly.
unsafe fn wipe(p: *mut u8, n: usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: the caller owns n writable bytes at p.
    unsafe {
        libc::explicit_bzero(p.cast(), n)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    // SAFETY: as above.
    unsafe {
        zeroize::Zeroize::zeroize(std::slice::from_raw_parts_mut(p, n))
    }
}

unsafe fn usable_size(p: *mut c_void) -> usize {
    // SAFETY: p came from wiping_malloc, so the size sits HEADER bytes before it.
    unsafe { p.cast::<u8>().sub(HEADER).cast::<usize>().read() }
}

unsafe extern "C" fn wiping_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: p came from wiping_malloc; we wipe exactly the usable bytes, then free the base.
    unsafe {
        let n = usable_size(p);
        wipe(p.cast::<u8>(), n);
        if n >= MLOCK_MIN {
            munlock_raw(p.cast(), n);
        }
        libc::free(p.cast::<u8>().sub(HEADER).cast());
    }
}

unsafe extern "C" fn wiping_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // libc's realloc may move a block and free the old one unwiped, so copy by hand.
    // SAFETY: p (if not null) came from wiping_malloc; the copy stays within both blocks.
    unsafe {
        let fresh = wiping_malloc(n);
        if fresh.is_null() || p.is_null() {
            return fresh;
        }
        let keep = usable_size(p).min(n as usize);
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), fresh.cast::<u8>(), keep);
        wiping_free(p);
        fresh
    }
}

unsafe extern "C" fn wiping_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: p came from wiping_malloc.
    unsafe { usable_size(p) as c_int }
}

unsafe extern "C" fn wiping_roundup(n: c_int) -> c_int {
    (n + 7) & !7
}

unsafe extern "C" fn wiping_init(_: *mut c_void) -> c_int {
    rusqlite::ffi::SQLITE_OK
}

unsafe extern "C" fn wiping_shutdown(_: *mut c_void) {}

static SQLITE_ALLOCATOR: Once = Once::new();
static SQLITE_ALLOCATOR_OK: AtomicBool = AtomicBool::new(false);

/// Installs an allocator in SQLite that wipes every block when it is freed, so a closed
/// database (decrypted image, page cache, sorter memory) leaves no plaintext in freed heap.
/// Idempotent; must run before the first connection opens. Returns whether it is in place.
pub fn install_wiping_sqlite_allocator() -> bool {
    SQLITE_ALLOCATOR.call_once(|| {
        let methods = rusqlite::ffi::sqlite3_mem_methods {
            xMalloc: Some(wiping_malloc),
            xFree: Some(wiping_free),
            xRealloc: Some(wiping_realloc),
            xSize: Some(wiping_size),
            xRoundup: Some(wiping_roundup),
            xInit: Some(wiping_init),
            xShutdown: Some(wiping_shutdown),
            pAppData: std::ptr::null_mut(),
        };
        // SAFETY: SQLite copies the struct; called once, before any connection exists
        // (every connection in kluis is opened through `store`, which calls this first).
        unsafe {
            let rc = rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MALLOC, &methods);
            SQLITE_ALLOCATOR_OK.store(rc == rusqlite::ffi::SQLITE_OK, Ordering::SeqCst);
        }
    });
    SQLITE_ALLOCATOR_OK.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiping_allocator_round_trips_sizes() {
        unsafe {
            let p = wiping_malloc(100);
            assert_eq!(wiping_size(p), 100);
            std::ptr::write_bytes(p.cast::<u8>(), 0xAB, 100);
            let q = wiping_realloc(p, 200_000);
            assert_eq!(wiping_size(q), 200_000);
            assert_eq!(*q.cast::<u8>().add(99), 0xAB);
            wiping_free(q);
            assert!(wiping_malloc(0).is_null());
        }
    }
}
