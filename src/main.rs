//! `hies`: the native command line over the same session the browser runs. `cli::run` parses
//! the arguments and hands them to one module per command (`src/cli/`), as ripgrep does.

#[cfg(not(target_family = "wasm"))]
mod cli;

#[cfg(target_family = "wasm")]
fn main() {}

#[cfg(not(target_family = "wasm"))]
fn main() -> std::process::ExitCode {
    keep_freed_memory();
    cli::main()
}

/// glibc hands every block over 128 KiB back to the kernel when it is freed, so each layer's
/// tensors arrive as fresh pages the kernel must fault in and zero: about 10 % of a native run in
/// `perf`. Keeping blocks up to 32 MiB (glibc's limit; the largest activation here is 25 MB) in
/// the heap made the forward 1.19× and scoring 1.12× faster (`hies bench`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}

#[cfg(all(not(target_family = "wasm"), not(all(target_os = "linux", target_env = "gnu"))))]
fn keep_freed_memory() {}
