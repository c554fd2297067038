//! Bootable disk images, cached under `target/gmpos-images/` by a hash of
//! the *stripped* kernel (debug info does not reach the image, and BIOS
//! boots of unstripped kernels are ~4x slower).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bootloader::BootConfig;

/// Bump when the way images are made changes (boot config, bootloader).
const IMAGE_FORMAT: &str = "gmpos-image-v2 bootloader-0.11.17 no-fb-log";
/// Images kept in the cache (least recently used ones go first).
const KEEP_IMAGES: usize = 48;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A unique temporary name inside `dir`.
pub fn temp_name(dir: &Path, what: &str) -> PathBuf {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    dir.join(format!(".{what}-{}-{n}", std::process::id()))
}

/// Removes leftovers of `temp_name(dir, what)` whose process is gone
/// (a runner killed with SIGKILL cannot clean up after itself).
pub fn remove_stale(dir: &Path, what: &str) {
    let prefix = format!(".{what}-");
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let p = e.path();
            let _ = fs::remove_dir_all(&p).or_else(|_| fs::remove_file(&p));
        }
    }
}

/// 128-bit FNV-1a: plenty for a cache key of non-adversarial inputs.
pub fn fnv1a128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let mut h = OFFSET;
    for p in parts {
        for &b in *p {
            h ^= b as u128;
            h = h.wrapping_mul(PRIME);
        }
        // Separator so that ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(PRIME);
    }
    h
}

/// The workspace root: `GMPOS_ROOT` (set by scripts/runner.sh), else the
/// nearest ancestor of the runner binary holding `boot/Cargo.toml`, else
/// the current directory.
pub fn workspace_root() -> PathBuf {
    if let Some(r) = std::env::var_os("GMPOS_ROOT") {
        return PathBuf::from(r);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.join("boot/Cargo.toml").is_file() && dir.join("Cargo.toml").is_file() {
                return dir.to_path_buf();
            }
        }
    }
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
}

pub fn image_dir() -> PathBuf {
    match std::env::var_os("GMPOS_IMAGE_DIR") {
        Some(d) => PathBuf::from(d),
        None => workspace_root().join("target/gmpos-images"),
    }
}

/// llvm-objcopy: `GMPOS_OBJCOPY`, the toolchain's llvm-tools, then PATH.
fn objcopy_candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os("GMPOS_OBJCOPY") {
        c.push(PathBuf::from(p));
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if let Ok(out) = Command::new(rustc)
        .args(["--print", "sysroot"])
        .current_dir(workspace_root())
        .output()
        && out.status.success()
    {
        let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
        c.push(Path::new(&sysroot).join("lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-objcopy"));
    }
    c.push("llvm-objcopy".into());
    c.push("objcopy".into());
    c
}

fn strip(kernel: &Path, out: &Path) -> Result<(), String> {
    let mut errors = Vec::new();
    for tool in objcopy_candidates() {
        match Command::new(&tool)
            .arg("--strip-all")
            .arg(kernel)
            .arg(out)
            .output()
        {
            Ok(o) if o.status.success() => return Ok(()),
            Ok(o) => errors.push(format!(
                "{}: {}",
                tool.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => errors.push(format!("{}: {e}", tool.display())),
        }
    }
    Err(format!(
        "cannot strip {}: {}",
        kernel.display(),
        errors.join("; ")
    ))
}

/// Whether the bootloader logs to serial: only with `GMPOS_VERBOSE=1` (its
/// ~20 lines of its own come before the kernel's banner otherwise).
pub fn bootloader_verbose() -> bool {
    std::env::var("GMPOS_VERBOSE").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn boot_config(verbose: bool) -> BootConfig {
    let mut c = BootConfig::default();
    // Nobody looks at the screen (-display none) and drawing log text into
    // the framebuffer is slow under TCG.
    c.frame_buffer_logging = false;
    c.serial_logging = verbose;
    c
}

/// A disk image ready to boot.
pub struct Image {
    pub path: PathBuf,
    /// Time spent building it; `None` when it came from the cache.
    pub built_in: Option<Duration>,
}

/// Returns the (cached) BIOS or UEFI image for `kernel`.
pub fn prepare(kernel: &Path, uefi: bool) -> Result<Image, String> {
    let dir = image_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for what in ["stripped.elf", "bios.img", "uefi.img"] {
        remove_stale(&dir, what);
    }
    let stripped = temp_name(&dir, "stripped.elf");
    let result = prepare_with(kernel, &stripped, &dir, uefi);
    let _ = fs::remove_file(&stripped);
    result
}

fn prepare_with(kernel: &Path, stripped: &Path, dir: &Path, uefi: bool) -> Result<Image, String> {
    strip(kernel, stripped)?;
    let bytes =
        fs::read(stripped).map_err(|e| format!("cannot read {}: {e}", stripped.display()))?;
    let kind = if uefi { "uefi" } else { "bios" };
    let verbose = bootloader_verbose();
    let log = if verbose { "serial-log" } else { "quiet" };
    let key = fnv1a128(&[
        IMAGE_FORMAT.as_bytes(),
        kind.as_bytes(),
        log.as_bytes(),
        &bytes,
    ]);
    let path = dir.join(format!("{key:032x}-{kind}.img"));
    if path.is_file() {
        // Mark as recently used for the pruning below.
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        return Ok(Image {
            path,
            built_in: None,
        });
    }
    let t0 = Instant::now();
    let tmp = temp_name(dir, &format!("{kind}.img"));
    let made = if uefi {
        bootloader::UefiBoot::new(stripped)
            .set_boot_config(&boot_config(verbose))
            .create_disk_image(&tmp)
    } else {
        bootloader::BiosBoot::new(stripped)
            .set_boot_config(&boot_config(verbose))
            .create_disk_image(&tmp)
    };
    if let Err(e) = made {
        let _ = fs::remove_file(&tmp);
        return Err(format!(
            "cannot build the {kind} image of {}: {e:#}",
            kernel.display()
        ));
    }
    fs::rename(&tmp, &path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    prune(dir);
    Ok(Image {
        path,
        built_in: Some(t0.elapsed()),
    })
}

/// Keeps the `KEEP_IMAGES` most recently used images.
fn prune(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    let mut imgs: Vec<(SystemTime, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            !n.starts_with('.') && n.ends_with(".img")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if imgs.len() <= KEEP_IMAGES {
        return;
    }
    imgs.sort_by_key(|a| std::cmp::Reverse(a.0));
    for (_, p) in &imgs[KEEP_IMAGES..] {
        let _ = fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_separates_parts() {
        assert_eq!(fnv1a128(&[b"gmpos"]), fnv1a128(&[b"gmpos"]));
        assert_ne!(fnv1a128(&[b"ab", b"c"]), fnv1a128(&[b"a", b"bc"]));
        assert_ne!(fnv1a128(&[b"bios", b"k"]), fnv1a128(&[b"uefi", b"k"]));
        // Pinned so a toolchain change cannot silently reshuffle the cache.
        assert_eq!(fnv1a128(&[]), 0x6c62272e07bb014262b821756295c58d);
    }
}
