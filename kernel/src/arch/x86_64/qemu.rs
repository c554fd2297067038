//! QEMU's devices: the isa-debug-exit port (power off with a status) and
//! fw_cfg (where the runner puts the kernel command line).
use ::x86_64::instructions::port::Port;

/// isa-debug-exit's port (the runner passes `iobase=0xf4,iosize=0x04`).
const DEBUG_EXIT_PORT: u16 = 0xf4;
/// Exit codes are offset so that QEMU's own statuses (0 after a triple fault
/// with `-no-reboot`, 1 on errors) never look like a kernel exit: the kernel
/// writes `0x10 + code`, QEMU exits with `(value << 1) | 1 = 33 + 2*code`,
/// and the runner maps that back to `code`.
const EXIT_CODE_BASE: u32 = 0x10;

/// Powers QEMU off with exit status `code` (0 success, 2 panic/fatal error).
/// On a machine without the device it halts.
pub fn exit(code: u32) -> ! {
    let mut port: Port<u32> = Port::new(DEBUG_EXIT_PORT);
    // SAFETY: writing to the isa-debug-exit port has no effect other than
    // ending the VM; without the device the write is ignored.
    unsafe { port.write(EXIT_CODE_BASE + code.min(0x6f)) };
    super::halt_forever()
}

const FW_CFG_SELECTOR: u16 = 0x510;
const FW_CFG_DATA: u16 = 0x511;
const FW_CFG_SIGNATURE: u16 = 0x0000;
const FW_CFG_FILE_DIR: u16 = 0x0019;

fn fw_cfg_select(key: u16) {
    // SAFETY: fw_cfg's selector port; on machines without fw_cfg the write
    // goes nowhere and the signature check below fails.
    unsafe { Port::<u16>::new(FW_CFG_SELECTOR).write(key) };
}

fn fw_cfg_read(buf: &mut [u8]) {
    let mut data = Port::<u8>::new(FW_CFG_DATA);
    for b in buf {
        // SAFETY: reading fw_cfg's data port only advances its offset.
        *b = unsafe { data.read() };
    }
}

/// Reads fw_cfg file `name` into `buf`; returns its length (truncated to the
/// buffer), or None when there is no fw_cfg or no such file.
pub fn fw_cfg_file(name: &str, buf: &mut [u8]) -> Option<usize> {
    let mut sig = [0u8; 4];
    fw_cfg_select(FW_CFG_SIGNATURE);
    fw_cfg_read(&mut sig);
    if &sig != b"QEMU" {
        return None;
    }
    fw_cfg_select(FW_CFG_FILE_DIR);
    let mut count = [0u8; 4];
    fw_cfg_read(&mut count);
    for _ in 0..u32::from_be_bytes(count) {
        let mut entry = [0u8; 64];
        fw_cfg_read(&mut entry);
        let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
        let select = u16::from_be_bytes([entry[4], entry[5]]);
        let fname = &entry[8..];
        let flen = fname.iter().position(|&c| c == 0).unwrap_or(fname.len());
        if &fname[..flen] == name.as_bytes() {
            let n = size.min(buf.len());
            fw_cfg_select(select);
            fw_cfg_read(&mut buf[..n]);
            return Some(n);
        }
    }
    None
}
