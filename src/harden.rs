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

// SQLite's allocator. Three promises: every block is wiped before its memory goes back to
// libc or the kernel; blocks of at least `MAP_MIN` bytes (database images, page caches, big
// sorter and full-text buffers) are mlocked where RLIMIT_MEMLOCK allows; and growing a block
// does not copy it each time. SQLite asks `xRoundup` what a request really gets and keeps
// using the slack (`xSize`), so blocks come in size classes of at most 25 % slack: a buffer
// that grows a little at a time stays in its block, and `sqlite3Realloc` does not even call
// `xRealloc` while the rounded size stays the same. Blocks of `MAP_MIN` and more are their own
// anonymous mappings, grown with `mremap`, which moves the pages themselves: nothing is
// copied and no unwiped copy is left behind. (libc's `realloc` may move a block and free the
// old one unwiped, which is why none of this goes through it.)

/// From this size on a block is its own mapping, mlocked where allowed.
const MAP_MIN: usize = 64 * 1024;
/// In front of each block: its usable size and its kind. 16 keeps malloc's alignment.
const HEADER: usize = 16;
const PAGE: usize = 4096;
/// Kinds, as written in the header (the values also catch a foreign pointer in tests).
const HEAP: usize = 0x6b6c_6865;
const MAPPED: usize = 0x6b6c_6d61;
const MAPPED_LOCKED: usize = 0x6b6c_6d6c;

/// What a request of `n` bytes gets: multiples of 16 up to 64 bytes, then four classes per
/// power of two, and from `MAP_MIN` whole pages (minus the header). None when that would not
/// fit SQLite's `int`.
fn class_size(n: usize) -> Option<usize> {
    let heap = if n <= 64 {
        (n.max(1) + 15) & !15
    } else {
        let step = 1usize << ((usize::BITS - 1 - (n - 1).leading_zeros()) - 2);
        n.checked_add(step - 1)? & !(step - 1)
    };
    // A class of MAP_MIN or more is a mapping of whole pages.
    let c = if heap < MAP_MIN {
        heap
    } else {
        n.max(MAP_MIN).checked_add(HEADER + PAGE - 1)? / PAGE * PAGE - HEADER
    };
    (c <= i32::MAX as usize).then_some(c)
}

unsafe fn header(p: *mut c_void) -> (usize, usize) {
    // SAFETY: p came from this allocator, so its header sits HEADER bytes before it.
    unsafe {
        let h = p.cast::<u8>().sub(HEADER).cast::<usize>();
        (h.read(), h.add(1).read())
    }
}

unsafe fn set_header(base: *mut u8, usable: usize, kind: usize) -> *mut c_void {
    // SAFETY: base starts a block of at least HEADER + usable bytes.
    unsafe {
        base.cast::<usize>().write(usable);
        base.cast::<usize>().add(1).write(kind);
        base.add(HEADER).cast()
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

/// Unit tests check the promise itself: every byte handed back to libc or the kernel is zero.
#[cfg(test)]
static UNWIPED_RELEASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[cfg(test)]
unsafe fn check_wiped(p: *const u8, n: usize) {
    // SAFETY: the caller owns n readable bytes at p.
    if unsafe { std::slice::from_raw_parts(p, n) }
        .iter()
        .any(|b| *b != 0)
    {
        UNWIPED_RELEASES.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe fn heap_alloc(usable: usize) -> *mut c_void {
    // SAFETY: malloc with a non-zero size; the header is written inside the block.
    unsafe {
        let base = libc::malloc(usable + HEADER).cast::<u8>();
        if base.is_null() {
            return std::ptr::null_mut();
        }
        set_header(base, usable, HEAP)
    }
}

unsafe fn map_alloc(usable: usize) -> *mut c_void {
    let len = usable + HEADER;
    // SAFETY: a fresh private anonymous mapping; mlock is best effort on it.
    unsafe {
        let base = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if base == libc::MAP_FAILED {
            return std::ptr::null_mut();
        }
        // A decrypted image faults in as 2 MiB pages where the kernel has them: 512 times
        // fewer faults (best effort; the pages are wiped and locked all the same).
        #[cfg(target_os = "linux")]
        if len >= HUGE_MIN {
            libc::madvise(base, len, libc::MADV_HUGEPAGE);
        }
        let kind = if lock(base, len) {
            MAPPED_LOCKED
        } else {
            MAPPED
        };
        set_header(base.cast(), usable, kind)
    }
}

/// mlocks a mapping page by page as it is first touched (Linux `MLOCK_ONFAULT`), else all at
/// once. A page holds nothing before it is written and is locked from its first fault, so
/// nothing reaches swap either way; but a plain mlock faults in every page of a 130 MB
/// image on one core before decryption starts, where on-fault locking lets the two
/// decrypting threads fault in their own halves, and never touches the slack SQLite does
/// not use.
unsafe fn lock(base: *mut c_void, len: usize) -> bool {
    // SAFETY: base..base+len is a mapping of ours; locking does not touch its contents.
    unsafe {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if libc::mlock2(base, len, libc::MLOCK_ONFAULT) == 0 {
            return true;
        }
        libc::mlock(base, len) == 0
    }
}

/// From this size on a mapping asks for transparent huge pages.
const HUGE_MIN: usize = 4 << 20;
/// From this size on a block is wiped on both cores (a closing 130 MB image: 12 ms on one).
const WIPE_SPLIT: usize = 16 << 20;

/// Wipes a mapped block: in a locked mapping only the pages that were ever touched (the
/// others were never faulted in, so they hold nothing, and writing zeros would fault them in
/// just to wipe them), and a large block on two threads.
unsafe fn wipe_mapped(p: *mut u8, n: usize, locked: bool) {
    let ranges = if locked {
        // SAFETY: p..p+n lies in one live mapping of ours.
        unsafe { touched_ranges(p, n) }
    } else {
        None
    };
    let ranges = ranges.unwrap_or_else(|| vec![(0, n)]);
    let total: usize = ranges.iter().map(|r| r.1).sum();
    let addr = p as usize;
    let wipe_all = |part: &[(usize, usize)]| {
        for &(at, len) in part {
            // SAFETY: each range lies within the block the caller owns.
            unsafe { wipe((addr + at) as *mut u8, len) }
        }
    };
    if total < WIPE_SPLIT {
        return wipe_all(&ranges);
    }
    // Split the byte ranges into two halves of about the same size.
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut left = total / 2;
    for &(at, len) in &ranges {
        if left == 0 {
            second.push((at, len));
        } else if len <= left {
            first.push((at, len));
            left -= len;
        } else {
            first.push((at, left));
            second.push((at + left, len - left));
            left = 0;
        }
    }
    std::thread::scope(|scope| {
        match std::thread::Builder::new().spawn_scoped(scope, || wipe_all(&second)) {
            Ok(other) => {
                wipe_all(&first);
                if other.join().is_err() {
                    wipe_all(&second);
                }
            }
            // No thread to be had: all of it here.
            Err(_) => {
                wipe_all(&first);
                wipe_all(&second);
            }
        }
    });
}

/// The byte ranges of `p..p+n` on pages present in memory (`mincore`), relative to `p`; None
/// when the kernel cannot tell, and then all of it counts.
unsafe fn touched_ranges(p: *mut u8, n: usize) -> Option<Vec<(usize, usize)>> {
    #[cfg(target_os = "linux")]
    {
        let start = p as usize & !(PAGE - 1);
        let end = p as usize + n;
        let pages = (end - start).div_ceil(PAGE);
        let mut present = vec![0u8; pages];
        // SAFETY: start..end lies in one mapping of ours; `present` has one byte per page.
        if unsafe { libc::mincore(start as *mut c_void, end - start, present.as_mut_ptr()) } != 0 {
            return None;
        }
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (i, flag) in present.iter().enumerate() {
            if flag & 1 == 0 {
                continue;
            }
            let from = (start + i * PAGE).max(p as usize) - p as usize;
            let to = (start + (i + 1) * PAGE).min(end) - p as usize;
            match ranges.last_mut() {
                Some(last) if last.0 + last.1 == from => last.1 += to - from,
                _ => ranges.push((from, to - from)),
            }
        }
        Some(ranges)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (p, n);
        None
    }
}

/// Wipes and releases a block.
unsafe fn release(p: *mut c_void) {
    // SAFETY: p came from this allocator; we wipe exactly its usable bytes, then free it the
    // way it was allocated.
    unsafe {
        let (usable, kind) = header(p);
        if kind == HEAP {
            wipe(p.cast(), usable);
        } else {
            wipe_mapped(p.cast(), usable, kind == MAPPED_LOCKED);
        }
        #[cfg(test)]
        check_wiped(p.cast(), usable);
        let base = p.cast::<u8>().sub(HEADER);
        if kind == HEAP {
            libc::free(base.cast());
        } else {
            // munmap unlocks what it unmaps: no separate munlock walk over the pages.
            libc::munmap(base.cast(), usable + HEADER);
        }
    }
}

/// A new block for `n` bytes with the first `keep` bytes of `p`; `p` is wiped and released.
unsafe fn move_block(p: *mut c_void, n: usize, keep: usize) -> *mut c_void {
    // SAFETY: p came from this allocator and holds at least `keep` bytes; so does the new one.
    unsafe {
        let fresh = wiping_malloc(n as c_int);
        if !fresh.is_null() {
            std::ptr::copy_nonoverlapping(p.cast::<u8>(), fresh.cast::<u8>(), keep);
            release(p);
        }
        fresh
    }
}

/// Resizes a mapped block in place or by moving its pages (Linux `mremap`).
#[cfg(target_os = "linux")]
unsafe fn remap(p: *mut c_void, usable: usize) -> Option<*mut c_void> {
    // SAFETY: p came from map_alloc; mremap keeps the contents, and the lock, of the pages
    // it moves. When the grown mapping would pass RLIMIT_MEMLOCK, it is unlocked first.
    unsafe {
        let (old, kind) = header(p);
        let base = p.cast::<u8>().sub(HEADER);
        let (old_len, len) = (old + HEADER, usable + HEADER);
        if usable < old {
            // The pages past the new end go back to the kernel: wiped first.
            wipe(p.cast::<u8>().add(usable), old - usable);
            #[cfg(test)]
            check_wiped(p.cast::<u8>().add(usable), old - usable);
        }
        let mut moved = libc::mremap(base.cast(), old_len, len, libc::MREMAP_MAYMOVE);
        let mut kind = kind;
        if moved == libc::MAP_FAILED && kind == MAPPED_LOCKED {
            libc::munlock(base.cast(), old_len);
            kind = MAPPED;
            moved = libc::mremap(base.cast(), old_len, len, libc::MREMAP_MAYMOVE);
        }
        if moved == libc::MAP_FAILED {
            header_kind_set(p, kind);
            return None;
        }
        if kind == MAPPED && lock(moved, len) {
            kind = MAPPED_LOCKED;
        }
        Some(set_header(moved.cast(), usable, kind))
    }
}

#[cfg(not(target_os = "linux"))]
unsafe fn remap(_p: *mut c_void, _usable: usize) -> Option<*mut c_void> {
    None
}

#[cfg(target_os = "linux")]
unsafe fn header_kind_set(p: *mut c_void, kind: usize) {
    // SAFETY: p came from this allocator.
    unsafe {
        p.cast::<u8>()
            .sub(HEADER)
            .cast::<usize>()
            .add(1)
            .write(kind)
    }
}

unsafe extern "C" fn wiping_malloc(n: c_int) -> *mut c_void {
    let Some(usable) = usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .and_then(class_size)
    else {
        return std::ptr::null_mut();
    };
    // SAFETY: a non-zero size within SQLite's int.
    unsafe {
        if usable >= MAP_MIN {
            map_alloc(usable)
        } else {
            heap_alloc(usable)
        }
    }
}

unsafe extern "C" fn wiping_free(p: *mut c_void) {
    if !p.is_null() {
        // SAFETY: p came from wiping_malloc or wiping_realloc.
        unsafe { release(p) }
    }
}

unsafe extern "C" fn wiping_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    if p.is_null() {
        // SAFETY: as malloc.
        return unsafe { wiping_malloc(n) };
    }
    let Some(usable) = usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .and_then(class_size)
    else {
        return std::ptr::null_mut();
    };
    // SAFETY: p came from this allocator; every path keeps min(old, new) bytes.
    unsafe {
        let (old, kind) = header(p);
        if kind == HEAP {
            // Still fits and not mostly empty: stay. The unused tail is wiped when freed.
            if usable < MAP_MIN && usable <= old && usable >= old / 2 {
                return p;
            }
            return move_block(p, usable, old.min(usable));
        }
        if usable == old {
            return p;
        }
        if usable >= MAP_MIN
            && let Some(moved) = remap(p, usable)
        {
            return moved;
        }
        move_block(p, usable, old.min(usable))
    }
}

unsafe extern "C" fn wiping_size(p: *mut c_void) -> c_int {
    if p.is_null() {
        return 0;
    }
    // SAFETY: p came from this allocator.
    unsafe { header(p).0 as c_int }
}

unsafe extern "C" fn wiping_roundup(n: c_int) -> c_int {
    usize::try_from(n)
        .ok()
        .and_then(class_size)
        .map_or(n, |c| c as c_int)
}

unsafe extern "C" fn wiping_init(_: *mut c_void) -> c_int {
    rusqlite::ffi::SQLITE_OK
}

unsafe extern "C" fn wiping_shutdown(_: *mut c_void) {}

static SQLITE_ALLOCATOR: Once = Once::new();
static SQLITE_ALLOCATOR_OK: AtomicBool = AtomicBool::new(false);

/// Benchmarks only: leaves SQLite's own allocator in place for the rest of this process, so
/// that a baseline can run kluis's code without the wiping allocator (tests/bench/search.rs).
/// kluis itself never calls it. Must run before any connection is opened.
#[doc(hidden)]
pub fn keep_sqlite_allocator_for_benchmarks() {
    SQLITE_ALLOCATOR.call_once(|| {});
}

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
            // No allocation statistics: kluis reads none, and keeping them takes a global
            // mutex around every malloc and free SQLite makes (a tenth of a journal replay).
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int);
            let rc = rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MALLOC, &methods);
            SQLITE_ALLOCATOR_OK.store(rc == rusqlite::ffi::SQLITE_OK, Ordering::SeqCst);
        }
    });
    SQLITE_ALLOCATOR_OK.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unwiped() -> usize {
        UNWIPED_RELEASES.load(Ordering::SeqCst)
    }

    #[test]
    fn a_large_block_is_wiped_where_it_was_touched_and_only_there() {
        unsafe {
            // Larger than WIPE_SPLIT, so two threads wipe it; written in two separate places.
            let n = (WIPE_SPLIT * 3) as c_int;
            let p = wiping_malloc(n).cast::<u8>();
            let (_, kind) = header(p.cast());
            std::ptr::write_bytes(p.add(PAGE * 3), 0xAB, PAGE * 2);
            std::ptr::write_bytes(p.add(WIPE_SPLIT * 2), 0xCD, WIPE_SPLIT / 2 + 100);
            if kind == MAPPED_LOCKED {
                // Where mlock is allowed (root in CI), only the pages around what was written
                // are present (4 KiB pages, or 2 MiB where the kernel gave huge ones): every
                // written byte is in a range, the untouched middle is not.
                let ranges = touched_ranges(p, n as usize).unwrap();
                let within = |at: usize| ranges.iter().any(|r| r.0 <= at && at < r.0 + r.1);
                for at in [
                    PAGE * 3,
                    PAGE * 5 - 1,
                    WIPE_SPLIT * 2,
                    WIPE_SPLIT * 5 / 2 + 99,
                ] {
                    assert!(within(at), "{at} {ranges:?}");
                }
                assert!(!within(WIPE_SPLIT), "{ranges:?}");
                let present: usize = ranges.iter().map(|r| r.1).sum();
                assert!(present < n as usize / 2, "{ranges:?}");
                assert!(ranges.iter().all(|r| r.0 + r.1 <= n as usize));
            }
            let before = unwiped();
            wiping_free(p.cast());
            assert_eq!(unwiped(), before, "a released byte was not zero");
        }
        assert_eq!(unwiped(), 0);
    }

    #[test]
    fn size_classes_are_stable_and_waste_at_most_a_quarter() {
        for n in (1..200_000)
            .step_by(7)
            .chain([64, 65, MAP_MIN - 1, MAP_MIN, MAP_MIN + 1])
        {
            let c = class_size(n).unwrap();
            assert!(c >= n, "{n}");
            assert_eq!(class_size(c), Some(c), "a class is its own class: {n}");
            if n > 64 && n < MAP_MIN {
                assert!(c - n <= n / 4, "{n} -> {c}");
            }
            if c >= MAP_MIN {
                assert_eq!((c + HEADER) % PAGE, 0, "{n}");
            }
        }
        // SQLite's largest allocation still gets an int-sized class.
        assert!(class_size(2_147_483_391).is_some());
        assert!(class_size(i32::MAX as usize).is_none());
    }

    #[test]
    fn blocks_grow_in_place_within_their_class_and_keep_their_bytes() {
        unsafe {
            let p = wiping_malloc(100);
            assert_eq!(wiping_size(p), 112);
            std::ptr::write_bytes(p.cast::<u8>(), 0xAB, 100);
            // 112 is the class of 100: growing into it does not move the block.
            assert_eq!(wiping_realloc(p, 110), p);
            // Out of the class: a new block with the old bytes.
            let q = wiping_realloc(p, 1000);
            assert_eq!(wiping_size(q), 1024);
            assert_eq!(*q.cast::<u8>().add(99), 0xAB);
            // Into its own mapping, then grown by moving pages: the bytes come along.
            let r = wiping_realloc(q, 200_000);
            assert_eq!(wiping_size(r) as usize, class_size(200_000).unwrap());
            assert_eq!(*r.cast::<u8>().add(99), 0xAB);
            std::ptr::write_bytes(r.cast::<u8>().add(150_000), 0xCD, 50_000);
            let s = wiping_realloc(r, 5_000_000);
            assert_eq!(*s.cast::<u8>().add(99), 0xAB);
            assert_eq!(*s.cast::<u8>().add(199_999), 0xCD);
            // Shrunk: the pages given back are wiped first.
            let t = wiping_realloc(s, 160_000);
            assert_eq!(*t.cast::<u8>().add(155_000), 0xCD);
            // Back under the mapping size: on the heap again.
            let u = wiping_realloc(t, 1_000);
            assert_eq!(*u.cast::<u8>().add(99), 0xAB);
            wiping_free(u);
            assert!(wiping_malloc(0).is_null());
            assert_eq!(wiping_roundup(100), 112);
        }
        assert_eq!(unwiped(), 0);
    }

    #[test]
    fn everything_sqlite_frees_is_wiped_first() {
        let before = unwiped();
        crate::store::Store::create("test").unwrap();
        assert!(install_wiping_sqlite_allocator());
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (x TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO t SELECT printf('geheim %d %s', i, hex(randomblob(40))) FROM n;
             CREATE INDEX t_x ON t (x);
             SELECT group_concat(x) FROM (SELECT x FROM t ORDER BY random());",
        )
        .unwrap();
        let image = conn.serialize(rusqlite::MAIN_DB).unwrap().len();
        assert!(image > MAP_MIN);
        drop(conn);
        // Every release in this process is checked, so another test's frees count too: none
        // may be unwiped.
        assert_eq!(unwiped(), before);
        assert_eq!(unwiped(), 0);
    }
}
