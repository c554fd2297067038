//! What the CPU is and offers (CPUID via raw-cpuid).
use raw_cpuid::CpuId;

/// The features gmpos cares about.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub x2apic: bool,
    pub tsc_deadline: bool,
    pub invariant_tsc: bool,
    pub hypervisor: bool,
}

pub fn features() -> Features {
    let id = CpuId::new();
    let f = id.get_feature_info();
    Features {
        x2apic: f.as_ref().is_some_and(|f| f.has_x2apic()),
        tsc_deadline: f.as_ref().is_some_and(|f| f.has_tsc_deadline()),
        invariant_tsc: id
            .get_advanced_power_mgmt_info()
            .is_some_and(|p| p.has_invariant_tsc()),
        hypervisor: f.as_ref().is_some_and(|f| f.has_hypervisor()),
    }
}

/// Writes the CPU's brand string (or vendor) into `buf`, returning it.
pub fn model(buf: &mut [u8; 48]) -> &str {
    let id = CpuId::new();
    if let Some(brand) = id.get_processor_brand_string() {
        let s = brand.as_str().trim().as_bytes();
        let n = s.len().min(48);
        buf[..n].copy_from_slice(&s[..n]);
        return core::str::from_utf8(&buf[..n]).unwrap_or("?");
    }
    if let Some(v) = id.get_vendor_info() {
        let s = v.as_str().as_bytes();
        let n = s.len().min(48);
        buf[..n].copy_from_slice(&s[..n]);
        return core::str::from_utf8(&buf[..n]).unwrap_or("?");
    }
    "unknown"
}
